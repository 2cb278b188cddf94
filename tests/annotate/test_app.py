"""The annotator's pages and the admin pages, in process (TestClient)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from chatanime.annotate.app import create_app
from chatanime.annotate.ratings import count_ratings
from chatanime.annotate.study import CreatedStudy
from chatanime.store import Store
from tests.annotate.support import SYSTEMS, form_fields, make_study


@pytest.fixture
def study(store: Store) -> CreatedStudy:
    return make_study(store, ("alice", "bob", "carol"), overlap=2, diversity_sets=1)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as c:
        yield c


def _open(client: TestClient, token: str, position: int) -> str:
    page = client.get(f"/a/{token}/{position}")
    assert page.status_code == 200, page.text
    return page.text


def _rate_all(html: str, value: int = 3) -> dict[str, str]:
    csrf, item, metrics = form_fields(html)
    return {"csrf": csrf, "item": item, **{f"m_{m}": str(value) for m in metrics}}


def test_invite_link_resumes_at_first_open_task(client: TestClient, study: CreatedStudy) -> None:
    token = study.invites[0].token
    first = client.get(f"/a/{token}")
    assert first.status_code == 303 and first.headers["location"] == f"/a/{token}/1"
    for position in (1, 2):
        answer = client.post(
            f"/a/{token}/{position}", data=_rate_all(_open(client, token, position))
        )
        assert answer.status_code == 303
    assert client.get(f"/a/{token}").headers["location"] == f"/a/{token}/3"
    page = _open(client, token, 3)
    assert 'value="2" max="' in page  # progress bar: two done


def test_pages_are_blind_and_escape_dialogue_text(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    seen_hostile = False
    for invite in study.invites:
        total = len(
            re.findall(
                r'<li class="(?:open|finished)">', client.get(f"/a/{invite.token}/done").text
            )
        )
        assert total > 0
        for position in range(1, total + 1):
            html = _open(client, invite.token, position)
            for system in SYSTEMS:
                assert system not in html.lower()
            assert "<script>alert" not in html and "<b>bold</b>" not in html
            if (
                "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
                in html
            ):
                seen_hostile = True
    assert seen_hostile  # the hostile answer was shown, as text


def test_csrf_is_required_and_bound_to_the_annotator(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    alice, bob = study.invites[0].token, study.invites[1].token
    form = _rate_all(_open(client, alice, 1))
    no_token = {k: v for k, v in form.items() if k != "csrf"}
    assert client.post(f"/a/{alice}/1", data=no_token).status_code == 403
    assert client.post(f"/a/{alice}/1", data={**form, "csrf": "0" * 64}).status_code == 403
    # alice's token on bob's form: same browser, different annotator
    bob_form = _rate_all(_open(client, bob, 1))
    assert client.post(f"/a/{bob}/1", data={**bob_form, "csrf": form["csrf"]}).status_code == 403
    # a browser without the nonce cookie (a cross-site form post)
    with TestClient(client.app, follow_redirects=False) as other:
        assert other.post(f"/a/{alice}/1", data=form).status_code == 403
    assert count_ratings(store.engine, study.study_id) == 0
    assert client.post(f"/a/{alice}/1", data=form).status_code == 303


def test_no_way_to_reach_another_annotators_item(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    alice, bob = study.invites[0].token, study.invites[1].token
    alice_items = set()
    for position in range(1, 30):
        page = client.get(f"/a/{alice}/{position}")
        if page.status_code == 404:
            break
        alice_items.add(form_fields(page.text)[1])
    bob_form = _rate_all(_open(client, bob, 1))
    foreign = next(i for i in sorted(alice_items) if i != bob_form["item"])
    tampered = client.post(f"/a/{bob}/1", data={**bob_form, "item": foreign})
    assert tampered.status_code == 403
    assert count_ratings(store.engine, study.study_id) == 0
    assert client.get(f"/a/{bob}/0").status_code == 404
    assert client.get(f"/a/{bob}/9999").status_code == 404
    assert client.get(f"/a/{bob[:-2]}xx/1").status_code == 404
    assert client.get(f"/a/{foreign}/1").status_code == 404  # an item id is not a token
    assert client.get(f"/a/{bob}/x").status_code == 422


def test_invalid_ratings_are_refused_and_kept_on_the_page(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    token = study.invites[0].token
    form = _rate_all(_open(client, token, 1))
    metric = next(k for k in form if k.startswith("m_"))
    for bad in ("0", "6", "two", ""):
        answer = client.post(f"/a/{token}/1", data={**form, metric: bad})
        assert answer.status_code == 422
        assert "1 to 5" in answer.text or "missing" in answer.text
    answer = client.post(f"/a/{token}/1", data={**form, "m_sparkle": "3"})
    assert answer.status_code == 422 and "unknown metric" in answer.text
    assert count_ratings(store.engine, study.study_id) == 0


def test_double_submit_keeps_one_row_per_metric(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    token = study.invites[0].token
    form = _rate_all(_open(client, token, 1))
    n_metrics = sum(1 for k in form if k.startswith("m_"))
    assert {client.post(f"/a/{token}/1", data=form).status_code for _ in range(2)} == {303}
    assert count_ratings(store.engine, study.study_id) == n_metrics
    again = _open(client, token, 1)
    assert again.count("checked") == n_metrics  # the stored values are shown on return


def test_security_headers(client: TestClient, study: CreatedStudy) -> None:
    page = client.get(f"/a/{study.invites[0].token}/1")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_admin_requires_its_own_token(
    client: TestClient, study: CreatedStudy, store: Store
) -> None:
    other = make_study(store, ("zoe",), name="other", overlap=1, diversity_sets=0)
    path = f"/admin/studies/{study.study_id}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        client.get(path, headers={"Authorization": f"Bearer {study.invites[0].token}"}).status_code
        == 401
    )
    assert (
        client.get(path, headers={"Authorization": f"Bearer {other.admin_token}"}).status_code
        == 403
    )
    ok = client.get(path, headers={"Authorization": f"Bearer {study.admin_token}"})
    assert ok.status_code == 200 and "alice" in ok.text
    export = client.get(
        path + "/export.csv", headers={"Authorization": f"Bearer {study.admin_token}"}
    )
    assert export.status_code == 200 and export.text.startswith("study,item_id")
    assert client.get(path + "/export.jsonl").status_code == 401


def test_admin_login_form(client: TestClient, study: CreatedStudy) -> None:
    login = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf
    assert client.post("/admin/login", data={"token": study.admin_token}).status_code == 403
    wrong = client.post("/admin/login", data={"token": "guess", "csrf": csrf.group(1)})
    assert wrong.status_code == 403
    done = client.post("/admin/login", data={"token": study.admin_token, "csrf": csrf.group(1)})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert page.status_code == 200 and "carol" in page.text
    assert study.admin_token not in page.text and study.admin_token not in str(client.cookies)
    logout_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert logout_csrf
    assert client.post("/admin/logout", data={"csrf": "x"}).status_code == 403
    assert client.post("/admin/logout", data={"csrf": logout_csrf.group(1)}).status_code == 303
    assert client.get(f"/admin/studies/{study.study_id}").status_code == 401


def test_redaction_of_log_records() -> None:
    import logging

    from chatanime.annotate.security import RedactingFilter, redact

    token = "Zk3_abcdefghijklmnopqrstuvwxyz0123"
    assert redact(f'"GET /a/{token}/3 HTTP/1.1"') == '"GET /a/[redacted]/3 HTTP/1.1"'
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token not in redact(f"token={token}&csrf={token}")
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", f"/a/{token}/1", "1.1", 200),
        None,
    )
    try:
        raise ValueError(f"failed on /a/{token}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert token not in text and "/a/[redacted]/1" in text and "ValueError" in text
