"""Round 2 under faults of the simulator's model (scripted on the fake server), and leases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from chatanime.annotate.app import create_app
from chatanime.annotate.collect_sim import claim, finish_ok, produce_round2
from chatanime.annotate.collect_study import CreatedCollection, SimulatorSettings
from chatanime.annotate.collect_tables import collect_dialogues, sim_calls
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.store import Store
from tests.annotate.collect_support import FAST_SIM, answer, fields, make_collection, wait_status

MODEL = "fake/user-sim"
FAILED_TEXT = "暂时无法生成用户的回复。你的第一轮回答已保存。"


def _study(store: Store, simulator: SimulatorSettings = FAST_SIM) -> CreatedCollection:
    return make_collection(store, characters=("luffy",), scenarios=(1, 2), simulator=simulator)


@pytest.fixture
def client(sqlite_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_store), follow_redirects=False) as c:
        yield c


def _answer_round1(client: TestClient, study: CreatedCollection, position: int = 1) -> str:
    path = f"/r/{study.invites[0].token}/{position}"
    csrf, dialogue = fields(client.get(path).text)
    sent = client.post(
        f"{path}/round1", data={"csrf": csrf, "dialogue": dialogue, "text": answer(1)}
    )
    assert sent.status_code == 303
    return path


def _dialogue(store: Store, position: int = 1) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(
            select(collect_dialogues).where(collect_dialogues.c.position == position)
        ).one()


def _calls(store: Store) -> list[tuple[int, str, int]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(sim_calls.c.run, sim_calls.c.outcome, sim_calls.c.retries).order_by(
                sim_calls.c.id
            )
        ).all()
    return [(int(r), str(o), int(n)) for r, o, n in rows]


def test_a_429_is_retried_and_counted(
    client: TestClient, sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store)
    fake_server.script(MODEL, [{"fault": "429", "retry_after": 1}])
    path = _answer_round1(client, study)
    slow = wait_status(client, path, ("running",), until=lambda s: s["slow"])
    assert slow["failed_calls"] == 1  # the page can say "retrying" during the back-off
    wait_status(client, path)
    assert _calls(sqlite_store) == [(1, "retry", 1), (1, "accepted", 1)]
    assert fake_server.stats()["by_model"][MODEL] == {"429": 1, "ok": 1}
    assert _dialogue(sqlite_store).question_r2 is not None


def test_persistent_500s_fail_visibly_keep_the_answer_and_retry(
    client: TestClient, sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store)
    fake_server.script(MODEL, [{"fault": "500"}] * 3)  # max_retries = 3: every try fails
    path = _answer_round1(client, study)
    failed = wait_status(client, path, ("failed",))
    assert failed["auto_retry_s"] == FAST_SIM.auto_retry_after_s  # the page retries by itself
    page = client.get(path).text
    assert FAILED_TEXT in page and answer(1) in page
    assert 'id="retry-form" class="hidden"' not in page
    row = _dialogue(sqlite_store)
    assert row.answer_r1 == answer(1) and row.question_r2 is None
    assert row.sim_failures == 1 and "HTTP 500" in row.sim_error
    assert _calls(sqlite_store) == [(1, "retry", 1), (1, "retry", 2), (1, "error", 2)]

    csrf, dialogue = fields(page)
    fake_server.script(MODEL, [{"fault": "500"}] * 3)
    client.post(f"{path}/retry", data={"csrf": csrf, "dialogue": dialogue})
    again = wait_status(client, path, ("failed",))
    assert again["auto_retry_s"] is None  # auto-retries used up: only the button now
    retried = client.post(f"{path}/retry", data={"csrf": csrf, "dialogue": dialogue})
    assert retried.headers["location"] == path
    wait_status(client, path)
    row = _dialogue(sqlite_store)
    assert row.answer_r1 == answer(1) and row.question_r2 is not None
    assert (row.sim_runs, row.sim_failures, row.sim_error) == (3, 2, None)
    outcomes = [(run, outcome) for run, outcome, _ in _calls(sqlite_store)]
    assert outcomes == [
        *[(1, o) for o in ("retry", "retry", "error")],
        *[(2, o) for o in ("retry", "retry", "error")],
        (3, "accepted"),
    ]


def test_a_reply_slower_than_the_timeout_is_retried(
    sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store, replace(FAST_SIM, timeout_s=0.3))
    fake_server.script(MODEL, [{"fault": "timeout", "sleep_s": 2}])
    with TestClient(create_app(sqlite_store), follow_redirects=False) as client:
        path = _answer_round1(client, study)
        wait_status(client, path)
    assert _calls(sqlite_store) == [(1, "retry", 1), (1, "accepted", 1)]
    assert fake_server.stats()["by_model"][MODEL] == {"timeout": 1, "ok": 1}


def test_the_deadline_bounds_a_hanging_simulator(
    sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store, replace(FAST_SIM, timeout_s=5, deadline_s=0.3))
    fake_server.script(MODEL, [{"fault": "timeout", "sleep_s": 3}])
    with TestClient(create_app(sqlite_store), follow_redirects=False) as client:
        path = _answer_round1(client, study)
        wait_status(client, path, ("failed",))
    assert "no valid question within 0.3 s" in _dialogue(sqlite_store).sim_error


def test_rejected_turns_are_recorded_with_reasons(
    client: TestClient, sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store)
    bad = [
        {"text": "路飞：好的！"},
        {"text": "作为一个AI助手，我会继续问你问题？"},
        {"text": "嗯。"},
    ]
    fake_server.script(MODEL, bad)
    path = _answer_round1(client, study)
    wait_status(client, path, ("failed",))
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(sim_calls.c.outcome, sim_calls.c.detail)).all()
    assert [r.outcome for r in rows] == ["rejected"] * 3
    assert "speaker label" in rows[0].detail and "AI self-reference" in rows[1].detail
    assert "UserSimulatorFailed" in _dialogue(sqlite_store).sim_error

    csrf, dialogue = fields(client.get(path).text)
    client.post(f"{path}/retry", data={"csrf": csrf, "dialogue": dialogue})
    wait_status(client, path)
    assert _dialogue(sqlite_store).sim_attempt == 1


def test_a_broken_model_name_is_a_failure_not_a_crash(
    client: TestClient, sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store, replace(FAST_SIM, model="fake/no-such-model"))
    path = _answer_round1(client, study)
    wait_status(client, path, ("failed",))
    assert "404" in _dialogue(sqlite_store).sim_error
    assert _calls(sqlite_store) == [(1, "error", 0)]  # fatal: not retried


def test_a_lease_is_exclusive_expires_and_fences_late_writers(
    sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store)
    with TestClient(create_app(sqlite_store, sim_lease_s=0.5), follow_redirects=False) as client:
        path = f"/r/{study.invites[0].token}/2"
        csrf, dialogue = fields(client.get(path).text)
        # round 1 stored straight in the table: nobody has kicked the worker yet
        with sqlite_store.engine.begin() as conn:
            conn.execute(
                update(collect_dialogues)
                .where(collect_dialogues.c.id == dialogue)
                .values(
                    answer_r1=answer(2), a1_at="2026-01-01T00:00:00+00:00", sim_status="pending"
                )
            )
        dead = claim(sqlite_store.engine, dialogue, lease_s=0.3)  # a process that then dies
        assert dead is not None
        assert claim(sqlite_store.engine, dialogue) is None  # the lease is exclusive
        wait_status(client, path)  # the page's poll re-claims once the lease ran out
        assert not finish_ok(sqlite_store.engine, dead, "迟到的问题？", 1, "ref")
        row = _dialogue(sqlite_store, 2)
        assert row.sim_runs == 2 and row.question_r2 != "迟到的问题？"
        assert csrf


def test_produce_round2_stores_under_its_lease(
    sqlite_store: Store, fake_server: FakeServer
) -> None:
    study = _study(sqlite_store)
    with TestClient(create_app(sqlite_store), follow_redirects=False) as client:
        _answer_round1(client, study)
        wait_status(client, f"/r/{study.invites[0].token}/1")
    with sqlite_store.engine.begin() as conn:  # an admin resets the question
        conn.execute(
            update(collect_dialogues).values(question_r2=None, sim_status="pending", sim_runs=1)
        )
    dialogue_id = _dialogue(sqlite_store).id
    job = claim(sqlite_store.engine, dialogue_id)
    assert job is not None and job.run == 2
    stored = asyncio.run(produce_round2(sqlite_store.engine, job, get_model))
    assert stored and _dialogue(sqlite_store).question_r2
    assert claim(sqlite_store.engine, dialogue_id) is None  # ready: nothing left to claim
