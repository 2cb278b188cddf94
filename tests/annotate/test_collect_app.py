"""A respondent's pages in process (TestClient), with the simulator on the fake model server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chatanime.annotate.app import create_app
from chatanime.annotate.collect_quiz import parse_quiz
from chatanime.annotate.collect_study import CreatedCollection
from chatanime.annotate.collect_tables import collect_dialogues, respondents, sim_calls
from chatanime.backends.fake_server import FakeServer
from chatanime.benchmark import load_benchmark
from chatanime.characters import get_character
from chatanime.simulator import character_names, check_user_turn
from chatanime.store import Store
from tests.annotate.collect_support import answer, fields, make_collection, wait_status

HOSTILE = '<script>alert("x")</script> & <b>bold</b>，路飞要吃肉'


@pytest.fixture
def study(store: Store) -> CreatedCollection:
    return make_collection(store)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as c:
        yield c


def _invite(study: CreatedCollection, character: str) -> str:
    return next(i.token for i in study.invites if i.character == character)


def _row(store: Store, token_path: str, position: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(
            select(collect_dialogues)
            .join(respondents, respondents.c.id == collect_dialogues.c.respondent_id)
            .where(collect_dialogues.c.position == position)
            .where(respondents.c.name == token_path)
        ).one()


def _open(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text


def _send(client: TestClient, path: str, round_: int, text: str) -> Any:
    csrf, dialogue = fields(_open(client, path))
    return client.post(
        f"{path}/round{round_}", data={"csrf": csrf, "dialogue": dialogue, "text": text}
    )


def test_two_rounds_with_the_simulated_follow_up(
    client: TestClient, study: CreatedCollection, store: Store, fake_server: FakeServer
) -> None:
    token = _invite(study, "luffy")
    assert client.get(f"/r/{token}").headers["location"] == f"/r/{token}/1"
    path = f"/r/{token}/1"
    html = _open(client, path)
    row = _row(store, "luffy-1", 1)
    question = load_benchmark("chatanime").scenario(row.scenario).question_r1
    assert question in html and "蒙奇·D·路飞" in html and "海贼王" in html
    assert 'maxlength="150"' in html and 'id="count">0</span> / 150' in html
    assert "<details open>" not in html  # the card is one click away, not in the way

    # a draft is kept and restored on the next visit
    csrf, dialogue = fields(html)
    saved = client.post(
        f"{path}/draft", data={"csrf": csrf, "dialogue": dialogue, "round": "1", "text": "草稿"}
    )
    assert saved.status_code == 200 and saved.json() == {"saved": True}
    assert ">草稿</textarea>" in _open(client, path)

    assert _send(client, path, 1, answer(1)).headers["location"] == path  # acknowledged
    stored = _row(store, "luffy-1", 1)
    assert stored.answer_r1 == answer(1) and stored.draft_r1 is None
    wait_status(client, path)
    html = _open(client, path)
    q2 = _row(store, "luffy-1", 1).question_r2
    assert "听好了第1号伙伴" in q2  # the question reacts to this respondent's own answer
    names = character_names(get_character("luffy"))
    assert check_user_turn(q2, names=names).ok
    assert q2 in html and answer(1) in html

    assert _send(client, path, 2, answer(1, 2)).headers["location"] == f"/r/{token}/2"
    done = _row(store, "luffy-1", 1)
    assert done.answer_r2 == answer(1, 2)
    assert done.sim_model == "fake/user-sim" and done.sim_prompt_ref.startswith("user-sim.zh@v1#")
    assert done.sim_attempt == 1 and done.sim_runs == 1 and done.sim_failures == 0
    for column in ("r1_opened_at", "a1_at", "q2_at", "r2_opened_at", "a2_at"):
        assert getattr(done, column) is not None, column
    with store.engine.connect() as conn:
        calls = conn.execute(select(sim_calls.c.outcome, sim_calls.c.retries)).all()
    assert [tuple(c) for c in calls] == [("accepted", 0)]
    assert fake_server.stats()["requests_by_model"] == {"fake/user-sim": 1}
    assert client.get(f"/r/{token}").headers["location"] == f"/r/{token}/2"  # resume


def test_respondents_are_fenced_in_and_forms_need_csrf(
    client: TestClient, study: CreatedCollection, store: Store, fake_server: FakeServer
) -> None:
    luffy, naruto = _invite(study, "luffy"), _invite(study, "naruto")
    csrf, dialogue = fields(_open(client, f"/r/{luffy}/1"))
    _, naruto_dialogue = fields(_open(client, f"/r/{naruto}/1"))
    form = {"csrf": csrf, "dialogue": dialogue, "text": answer(1)}

    assert client.get(f"/r/{luffy[:-3]}zzz/1").status_code == 404
    assert client.get(f"/r/{luffy}/99").status_code == 404
    # naruto's dialogue id on luffy's position: refused, nothing stored
    refused = client.post(f"/r/{luffy}/1/round1", data={**form, "dialogue": naruto_dialogue})
    assert refused.status_code == 403 and "not assigned" not in refused.text.lower()
    # luffy's CSRF token does not work on naruto's link, nor does a missing one
    assert client.post(f"/r/{naruto}/1/round1", data=form).status_code == 403
    assert client.post(f"/r/{luffy}/1/round1", data={**form, "csrf": ""}).status_code == 403
    assert client.post(f"/r/{luffy}/1/draft", data={**form, "round": "1"}).status_code == 200
    cookieless = TestClient(client.app, follow_redirects=False)
    assert cookieless.post(f"/r/{luffy}/1/round1", data=form).status_code == 403
    with store.engine.connect() as conn:
        answered = conn.execute(
            select(collect_dialogues.c.id).where(collect_dialogues.c.answer_r1.is_not(None))
        ).all()
    assert answered == []
    assert fake_server.stats()["requests"] == 0


def test_the_server_enforces_the_limit_and_escapes_text(
    client: TestClient, study: CreatedCollection, store: Store, fake_server: FakeServer
) -> None:
    token = _invite(study, "luffy")
    path = f"/r/{token}/1"
    too_long = "肉" * 151
    rejected = _send(client, path, 1, too_long)
    assert rejected.status_code == 422
    assert "151" in rejected.text and "150" in rejected.text
    assert f">{too_long}</textarea>" in rejected.text  # what was typed is not lost
    assert _row(store, "luffy-1", 1).answer_r1 is None
    assert _send(client, path, 1, "   \n ").status_code == 422
    # whitespace does not count, as in the simulator and the benchmark's limit
    spaced = " ".join(["肉" * 10] * 15)
    assert _send(client, path, 1, spaced).status_code == 303

    hostile_path = f"/r/{token}/2"
    assert _send(client, hostile_path, 1, HOSTILE).status_code == 303
    wait_status(client, hostile_path, ("ready", "failed"))
    html = _open(client, hostile_path)
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_answers_are_idempotent_and_final(
    client: TestClient, study: CreatedCollection, store: Store, fake_server: FakeServer
) -> None:
    token = _invite(study, "naruto")
    path = f"/r/{token}/1"
    csrf, dialogue = fields(_open(client, path))
    form = {"csrf": csrf, "dialogue": dialogue}
    early = client.post(f"{path}/round2", data={**form, "text": answer(1, 2)})
    assert early.status_code == 422  # no round-2 question yet
    for _ in range(2):  # a double submit is one answer and one simulator job
        assert client.post(f"{path}/round1", data={**form, "text": answer(1)}).status_code == 303
    changed = client.post(f"{path}/round1", data={**form, "text": answer(2)})
    assert changed.status_code == 422
    wait_status(client, path)
    ignored = client.post(f"{path}/draft", data={**form, "round": "1", "text": "too late"}).json()
    assert ignored == {"saved": False}
    assert _row(store, "naruto-1", 1).answer_r1 == answer(1)
    assert fake_server.stats()["requests_by_model"] == {"fake/user-sim": 1}


def test_quiz_is_taken_once_stored_and_can_gate(store: Store, fake_server: FakeServer) -> None:
    quiz = parse_quiz(
        {
            "gate": True,
            "characters": {
                "luffy": [
                    {
                        "question": "路飞吃下的恶魔果实？",
                        "choices": ["橡胶果实", "烧烧果实"],
                        "answer": "橡胶果实",
                    },
                    {"question": "路飞的梦想？", "accept": ["海贼王", "成为海贼王"]},
                ]
            },
        },
        "quiz.yaml",
        {"luffy": None, "naruto": None},
    )
    study = make_collection(
        store, quiz=quiz, per_character=2, scenarios=(1, 2, 3, 4), name="quizzed"
    )
    tokens = {i.respondent: i.token for i in study.invites}
    with TestClient(create_app(store), follow_redirects=False) as client:
        good, bad = tokens["luffy-1"], tokens["luffy-2"]
        assert client.get(f"/r/{good}").headers["location"] == f"/r/{good}/quiz"
        assert client.get(f"/r/{good}/1").headers["location"] == f"/r/{good}/quiz"
        page = _open(client, f"/r/{good}/quiz")
        assert "橡胶果实" in page and "成为海贼王" not in page  # choices yes, answer key no
        csrf = fields(page + '<input name="dialogue" value="x">')[0]
        assert client.post(f"/r/{good}/1/round1", data={"csrf": csrf}).status_code == 403
        missing = client.post(f"/r/{good}/quiz", data={"csrf": csrf, "q_0": "橡胶果实"})
        assert missing.status_code == 422
        ok = {"csrf": csrf, "q_0": "橡胶果实", "q_1": " 成为 海贼王 "}
        assert client.post(f"/r/{good}/quiz", data=ok).headers["location"] == f"/r/{good}"
        assert client.get(f"/r/{good}").headers["location"] == f"/r/{good}/1"

        csrf = fields(_open(client, f"/r/{bad}/quiz") + '<input name="dialogue" value="x">')[0]
        wrong = {"csrf": csrf, "q_0": "烧烧果实", "q_1": "海军"}
        client.post(f"/r/{bad}/quiz", data=wrong)
        client.post(f"/r/{bad}/quiz", data=ok)  # a second try is ignored
        assert client.get(f"/r/{bad}").headers["location"] == f"/r/{bad}/done"
        assert client.get(f"/r/{bad}/1").headers["location"] == f"/r/{bad}/done"

        naruto = tokens["naruto-1"]  # no questions for naruto: straight to work
        assert client.get(f"/r/{naruto}").headers["location"] == f"/r/{naruto}/1"
    with store.engine.connect() as conn:
        rows = {
            r.name: (r.quiz_score, r.quiz_passed)
            for r in conn.execute(
                select(respondents.c.name, respondents.c.quiz_score, respondents.c.quiz_passed)
            )
        }
    assert rows == {
        "luffy-1": (2, True),
        "luffy-2": (0, False),
        "naruto-1": (None, None),
        "naruto-2": (None, None),
    }


def test_admin_sees_progress_and_exports(
    client: TestClient, study: CreatedCollection, store: Store, fake_server: FakeServer
) -> None:
    token = _invite(study, "luffy")
    path = f"/r/{token}/1"
    _send(client, path, 1, answer(1))
    wait_status(client, path)
    _send(client, path, 2, answer(1, 2))

    assert client.get(f"/admin/collect/{study.study_id}").status_code == 401
    other = make_collection(store, name="other")
    bearer = {"Authorization": f"Bearer {other.admin_token}"}
    assert client.get(f"/admin/collect/{study.study_id}", headers=bearer).status_code == 403

    login = client.get("/admin")
    csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
    answer_ = client.post("/admin/login", data={"csrf": csrf, "token": study.admin_token})
    assert answer_.headers["location"] == f"/admin/collect/{study.study_id}"
    page = _open(client, f"/admin/collect/{study.study_id}")
    assert "luffy-1" in page and "1 / 6" in page
    exported = client.get(f"/admin/collect/{study.study_id}/export.json").json()
    assert list(exported) == ["《海贼王》的蒙奇·D·路飞"]
    assert exported["《海贼王》的蒙奇·D·路飞"][0]["answer_r2"] == answer(1, 2)
    lines = client.get(f"/admin/collect/{study.study_id}/export.jsonl").text.splitlines()
    assert len(lines) == 1 and '"simulator"' in lines[0] and "luffy-1" not in lines[0]
