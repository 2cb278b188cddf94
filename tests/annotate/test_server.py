"""The real server on loopback: concurrent annotators, crash safety, log hygiene.

Bounded by construction: 20 clients, a fixed number of tasks each, per-request timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from chatanime.annotate.ratings import count_ratings
from chatanime.annotate.study import CreatedStudy
from chatanime.annotate.tables import assignments, items, ratings
from chatanime.store import Store
from tests.annotate.support import LiveServer, form_fields, make_study

N_ANNOTATORS = 20


@dataclass
class Ack:
    """A submission the server acknowledged (303 after commit)."""

    token: str
    position: int
    values: dict[str, int]


@dataclass
class ClientRun:
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _submit_all(
    base_url: str,
    token: str,
    run: ClientRun,
    value_of: Callable[[int, str], int],
    start: threading.Barrier | None = None,
    stop: threading.Event | None = None,
) -> None:
    """One annotator working through their list as a browser would (GET, then POST)."""
    with httpx.Client(base_url=base_url, timeout=60.0, follow_redirects=False) as client:
        if start is not None:
            start.wait(timeout=60)
        try:
            location = client.get(f"/a/{token}").headers["location"]
            while not location.endswith("/done") and not (stop and stop.is_set()):
                position = int(location.rsplit("/", 1)[1])
                csrf, item, metrics = form_fields(client.get(location).text)
                values = {m: value_of(position, m) for m in metrics}
                form = {"csrf": csrf, "item": item, **{f"m_{m}": str(v) for m, v in values.items()}}
                answer = client.post(location, data=form)
                if answer.status_code != 303:
                    run.errors.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                run.acks.append(Ack(token, position, values))
                location = answer.headers["location"]
        except httpx.TransportError as exc:
            run.errors.append(f"transport: {exc!r}")


def _expected_rows(store: Store, study_id: str) -> int:
    """Sum over assignments of the number of metrics of the item's task."""
    with store.engine.connect() as conn:
        kinds = conn.execute(
            select(items.c.kind, func.count())
            .join(assignments, assignments.c.item_id == items.c.id)
            .where(assignments.c.study_id == study_id)
            .group_by(items.c.kind)
        ).all()
    return sum(n * (1 if kind == "diversity" else 9) for kind, n in kinds)


def _big_study(store: Store) -> CreatedStudy:
    names = tuple(f"rater{i:02d}" for i in range(N_ANNOTATORS))
    return make_study(store, names, scenarios=(1, 2, 3, 4, 5, 6), overlap=2, diversity_sets=1)


def test_twenty_concurrent_annotators_lose_and_duplicate_nothing(
    store: Store, live_server: LiveServer
) -> None:
    study = _big_study(store)
    live_server.start()
    barrier = threading.Barrier(N_ANNOTATORS)
    runs = [ClientRun() for _ in study.invites]
    threads = [
        threading.Thread(
            target=_submit_all,
            args=(live_server.base_url, inv.token, run, lambda p, m: 1 + (p + len(m)) % 5, barrier),
        )
        for inv, run in zip(study.invites, runs, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert [e for r in runs for e in r.errors] == []
    expected = _expected_rows(store, study.study_id)
    assert count_ratings(store.engine, study.study_id) == expected
    assert sum(len(r.acks) for r in runs) == study.n_assignments
    with store.engine.connect() as conn:
        open_left = conn.execute(
            select(func.count())
            .select_from(assignments)
            .where(assignments.c.completed_at.is_(None))
        ).scalar_one()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(ratings.c.assignment_id, ratings.c.metric).distinct().subquery()
            )
        ).scalar_one()
    assert open_left == 0 and distinct == expected

    # a double submit (the same form posted twice, concurrently) stays idempotent
    token = study.invites[0].token
    with httpx.Client(base_url=live_server.base_url, timeout=30.0) as client:
        csrf, item, metrics = form_fields(client.get(f"/a/{token}/1").text)
        form = {"csrf": csrf, "item": item, **{f"m_{m}": "5" for m in metrics}}
        codes: list[int] = []
        posts = [
            threading.Thread(
                target=lambda: codes.append(client.post(f"/a/{token}/1", data=form).status_code)
            )
            for _ in range(2)
        ]
        for t in posts:
            t.start()
        for t in posts:
            t.join(timeout=60)
    assert codes == [303, 303]
    assert count_ratings(store.engine, study.study_id) == expected

    # no secret reached the server's log, but requests were logged
    log = live_server.log()
    assert "GET /a/[redacted]" in log and "POST /a/[redacted]/1" in log
    for secret in [study.admin_token, *(i.token for i in study.invites)]:
        assert secret not in log


def test_killed_server_keeps_every_acknowledged_rating(
    store: Store, live_server: LiveServer
) -> None:
    study = make_study(store, ("a1", "a2", "a3", "a4"), scenarios=(1, 2, 3, 4, 5, 6), overlap=2)
    live_server.start()
    runs = [ClientRun() for _ in study.invites]
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_submit_all,
            args=(live_server.base_url, inv.token, run, lambda p, m: 1 + (p * 7 + len(m)) % 5),
            kwargs={"stop": stop},
        )
        for inv, run in zip(study.invites, runs, strict=True)
    ]
    for t in threads:
        t.start()
    while sum(len(r.acks) for r in runs) < 12 and any(t.is_alive() for t in threads):
        threading.Event().wait(0.01)
    live_server.kill()  # mid-flight: other submissions are in progress
    stop.set()
    for t in threads:
        t.join(timeout=60)
    acked = [a for r in runs for a in r.acks]
    assert len(acked) >= 12
    assert len(acked) < study.n_assignments  # the kill really interrupted the work

    live_server.start()  # same store, fresh process
    tokens = {inv.token: inv.annotator for inv in study.invites}
    with store.engine.connect() as conn:
        stored = {
            (row.annotator_id, row.position, row.metric): row.value
            for row in conn.execute(
                select(
                    assignments.c.annotator_id,
                    assignments.c.position,
                    ratings.c.metric,
                    ratings.c.value,
                ).join(ratings, ratings.c.assignment_id == assignments.c.id)
            )
        }
    from chatanime.annotate.worklist import annotator_for_token

    with store.engine.connect() as conn:
        ids = {t: annotator_for_token(conn, t).id for t in tokens}  # type: ignore[union-attr]
    for ack in acked:
        for metric, value in ack.values.items():
            assert stored.get((ids[ack.token], ack.position, metric)) == value

    # after the restart everyone resumes and finishes; nothing is duplicated
    finish = [ClientRun() for _ in study.invites]
    for inv, run in zip(study.invites, finish, strict=True):
        _submit_all(live_server.base_url, inv.token, run, lambda p, m: 2)
        assert run.errors == []
    assert count_ratings(store.engine, study.study_id) == _expected_rows(store, study.study_id)
