"""The generic runner against the fake server: keyed calls, resume, retries, failures."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Connection, func, select

from chatanime.backends.base import ChatMessage, ChatModel, ConfigurationError, GenerationParams
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.pricing import Price, PriceTable
from chatanime.runner import (
    CallContext,
    ModelPool,
    RateLimit,
    RunOptions,
    RunSpec,
    RunSummary,
    call_key,
    insert_or_ignore,
    run_units,
    upsert,
)
from chatanime.runner_progress import RunProgress
from chatanime.store import Store
from chatanime.store.schema import call_failures, calls, dialogues, runs, units

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)
PRICES = PriceTable({"fake/echo": Price(input=1.0, output=2.0)})


@pytest.fixture
def server(fake_server: FakeServer) -> FakeServer:
    """The shared fake server of tests/plugins/fake.py (reset for each test)."""
    return fake_server


@dataclass
class EchoUnit:
    """Calls ``fake/echo`` ``steps`` times; can be told to fail after its first call."""

    id: str
    steps: int = 2
    fail_after_first: bool = False
    timeout_s: float = 60.0

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        texts = []
        for i in range(self.steps):
            response = await ctx.call(
                step=f"s{i}",
                role="test",
                model="fake/echo",
                messages=[ChatMessage(role="user", content=f"{self.id} step {i}")],
                params=GenerationParams(timeout_s=self.timeout_s),
                prompt_ref="test@v1#0",
            )
            texts.append(response.text)
            if self.fail_after_first:
                raise RuntimeError("interrupted on purpose")
        return {"texts": texts}


@pytest.fixture
def store(any_store: Store) -> Store:
    """The runner's rows on both stores it supports: a SQLite file and PostgreSQL."""
    return any_store


def reject_call_rows(store: Store, unit_id: str) -> None:
    """A trigger that makes inserting a ``calls`` row of ``unit_id`` fail ("disk says no")."""
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.exec_driver_sql(
                f"CREATE TRIGGER reject_{unit_id} BEFORE INSERT ON calls "
                f"WHEN NEW.unit_id = '{unit_id}' BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
            return
        conn.exec_driver_sql(
            f"CREATE FUNCTION reject_{unit_id}() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.unit_id = '{unit_id}' THEN RAISE EXCEPTION 'disk says no'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER reject_{unit_id} BEFORE INSERT ON calls "
            f"FOR EACH ROW EXECUTE FUNCTION reject_{unit_id}()"
        )


def spec(name: str = "t") -> RunSpec:
    return RunSpec(kind="test", name=name, identity={"model": "fake/echo"}, config={"c": 1})


def factory(server: FakeServer) -> Any:
    def make(name: str) -> ChatModel:
        return get_model(name, base_url=server.base_url)

    return make


async def run(store: Store, server: FakeServer, units_: list[Any], **options: Any) -> RunSummary:
    opts = RunOptions(progress=False, retry=FAST_RETRY, **options)
    return await run_units(
        store, spec(), units_, models=factory(server), options=opts, prices=PRICES
    )


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


async def test_units_are_run_and_every_call_is_recorded(store: Store, server: FakeServer) -> None:
    summary = await run(store, server, [EchoUnit(f"u{i}") for i in range(5)])
    assert (summary.done, summary.failed, summary.calls) == (5, 0, 10)
    assert summary.results["u3"] == {"texts": ["u3 step 0", "u3 step 1"]}
    with store.engine.connect() as conn:
        rows = conn.execute(select(calls)).all()
        unit_rows = conn.execute(select(units)).all()
        run_row = conn.execute(select(runs)).one()
    assert len(rows) == 10 and len(unit_rows) == 5
    assert {r.status for r in unit_rows} == {"done"}
    for row in rows:
        assert row.input_tokens > 0 and row.output_tokens > 0 and row.latency_s > 0
        expected = (row.input_tokens * 1.0 + row.output_tokens * 2.0) / 1e6
        assert row.cost_usd == pytest.approx(expected)
        assert row.key == call_key(run_row.id, row.unit_id, row.step)
        assert row.prompt_ref == "test@v1#0" and row.retries == 0
    assert summary.cost_usd == pytest.approx(sum(r.cost_usd for r in rows))
    config = json.loads(run_row.config_json)
    assert config["model"] == "fake/echo" and config["c"] == 1 and "chatanime" in config


async def test_rerun_skips_finished_units_and_calls_nothing(
    store: Store, server: FakeServer
) -> None:
    await run(store, server, [EchoUnit(f"u{i}") for i in range(4)])
    before = server.stats()["requests"]
    again = await run(store, server, [EchoUnit(f"u{i}") for i in range(4)])
    assert server.stats()["requests"] == before
    assert (again.skipped, again.done, again.calls) == (4, 0, 0)
    assert again.results["u1"] == {"texts": ["u1 step 0", "u1 step 1"]}
    assert count(store, calls) == 8 and count(store, units) == 4


async def test_unfinished_unit_replays_its_finished_calls(store: Store, server: FakeServer) -> None:
    first = await run(store, server, [EchoUnit("u", fail_after_first=True)])
    assert first.failed == 1 and "interrupted on purpose" in first.errors["u"]
    assert server.stats()["requests"] == 1
    second = await run(store, server, [EchoUnit("u")])
    assert server.stats()["requests"] == 2  # only step 1 was new
    assert (second.done, second.calls, second.replayed_calls) == (1, 1, 1)
    with store.engine.connect() as conn:
        row = conn.execute(select(units)).one()
    assert (row.status, row.error) == ("done", None)


async def test_faults_are_retried_and_counted(store: Store, server: FakeServer) -> None:
    server.script(
        "fake/echo",
        [
            {"fault": "429", "retry_after": 0.05},
            {"fault": "500"},
            {"fault": "drop"},
            {"fault": "malformed"},
            {"fault": "timeout", "sleep_s": 1.0},
        ],
    )
    summary = await run(store, server, [EchoUnit("u", steps=1, timeout_s=0.3)])
    assert summary.done == 1 and summary.retries == 5
    with store.engine.connect() as conn:
        row = conn.execute(select(calls)).one()
    assert row.retries == 5 and row.response_text == "u step 0"
    outcomes = server.stats()["by_outcome"]
    for fault in ("429", "500", "drop", "malformed", "timeout"):
        assert outcomes.get(fault) == 1, outcomes


async def test_permanent_failures_are_recorded_and_the_run_goes_on(
    store: Store, server: FakeServer
) -> None:
    server.script("fake/echo", [{"fault": "400"}])
    summary = await run(
        store,
        server,
        [EchoUnit("bad", steps=1)] + [EchoUnit(f"ok{i}") for i in range(3)],
        concurrency=1,
    )
    assert (summary.done, summary.failed, summary.failed_calls) == (3, 1, 1)
    assert "400" in summary.errors["bad"]
    with store.engine.connect() as conn:
        failure = conn.execute(select(call_failures)).one()
        unit = conn.execute(select(units).where(units.c.unit_id == "bad")).one()
    assert failure.unit_id == "bad" and failure.step == "s0" and "400" in failure.error
    assert unit.status == "failed" and "FatalModelError" in unit.error


async def test_exhausted_retries_are_a_recorded_failure(store: Store, server: FakeServer) -> None:
    server.script("fake/echo", [{"fault": "500"}, {"fault": "503"}])
    opts = RunOptions(progress=False, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    summary = await run_units(
        store, spec(), [EchoUnit("u", steps=1)], models=factory(server), options=opts
    )
    assert summary.failed == 1 and summary.retries == 1
    with store.engine.connect() as conn:
        failure = conn.execute(select(call_failures)).one()
    assert failure.retries == 1 and "503" in failure.error


async def test_concurrency_bounds_requests_in_flight(
    store: Store, fake_server_factory: Callable[..., FakeServer]
) -> None:
    srv = fake_server_factory(latency_ms=30)
    summary = await run(store, srv, [EchoUnit(f"u{i}", steps=1) for i in range(24)], concurrency=4)
    assert summary.done == 24
    assert 2 <= srv.stats()["max_in_flight"] <= 4


async def test_repeated_failures_stop_the_run(store: Store, server: FakeServer) -> None:
    server.script("fake/echo", [{"fault": "401"}] * 10)
    summary = await run(
        store,
        server,
        [EchoUnit(f"u{i}", steps=1) for i in range(10)],
        concurrency=1,
        max_consecutive_failures=3,
    )
    assert summary.failed == 3 and summary.aborted is not None
    assert server.stats()["requests"] == 3


async def test_a_failing_persist_marks_the_unit_failed(store: Store, server: FakeServer) -> None:
    def persist(conn: Connection, unit_id: str, result: Any) -> None:
        if unit_id == "u1":
            raise ValueError("cannot store")

    opts = RunOptions(progress=False, retry=FAST_RETRY)
    summary = await run_units(
        store,
        spec(),
        [EchoUnit("u0"), EchoUnit("u1")],
        models=factory(server),
        options=opts,
        persist=persist,
    )
    assert summary.done == 1 and "storing its result failed" in summary.errors["u1"]


async def test_a_call_row_that_cannot_be_stored_fails_only_its_unit(
    store: Store, server: FakeServer
) -> None:
    reject_call_rows(store, "u1")
    summary = await run(store, server, [EchoUnit(f"u{i}") for i in range(4)], concurrency=4)
    assert summary.done == 3 and "disk says no" in summary.errors["u1"]
    with store.engine.connect() as conn:
        stored = conn.execute(select(calls.c.unit_id)).scalars().all()
        statuses = dict(conn.execute(select(units.c.unit_id, units.c.status)).all())
    assert sorted(stored) == ["u0", "u0", "u2", "u2", "u3", "u3"]
    assert statuses == {"u0": "done", "u1": "failed", "u2": "done", "u3": "done"}


async def test_a_failed_unit_whose_call_row_cannot_be_stored_stays_a_failure(
    store: Store, server: FakeServer
) -> None:
    reject_call_rows(store, "bad")
    units_ = [EchoUnit("bad", fail_after_first=True), EchoUnit("ok")]
    summary = await run(store, server, units_, concurrency=2)
    assert (summary.done, summary.failed) == (1, 1)
    assert "interrupted on purpose" in summary.errors["bad"]
    with store.engine.connect() as conn:
        statuses = dict(conn.execute(select(units.c.unit_id, units.c.status)).all())
    assert statuses == {"bad": "failed", "ok": "done"}


@dataclass
class SignalUnit:
    """Makes one call, then signals ``event``."""

    id: str
    event: threading.Event

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        await EchoUnit(self.id, steps=1).run(ctx)
        self.event.set()
        return {}


async def test_a_worker_does_not_wait_for_its_last_unit_to_be_stored(
    store: Store, server: FakeServer
) -> None:
    """While the writer thread is stuck marking u0 done, the worker runs u1 to the end."""
    released = threading.Event()
    waited: list[bool] = []

    def persist(conn: Connection, unit_id: str, result: Any) -> None:
        if unit_id == "u0":
            waited.append(released.wait(timeout=20))

    opts = RunOptions(progress=False, retry=FAST_RETRY, concurrency=1)
    summary = await run_units(
        store,
        spec(),
        [EchoUnit("u0", steps=1), SignalUnit("u1", released)],
        models=factory(server),
        options=opts,
        persist=persist,
    )
    assert waited == [True] and summary.done == 2
    assert count(store, calls) == 2 and count(store, units) == 2


async def test_no_paid_call_starts_while_an_earlier_answer_is_unstored(
    store: Store, server: FakeServer
) -> None:
    """The crash bound: a worker's next request waits until its last answer is committed.

    The writer is held while u1's first answer sits in its queue; u1's second request
    must not reach the server until the writer lets go.
    """
    seen: list[int] = []

    def persist(conn: Connection, unit_id: str, result: Any) -> None:
        if unit_id != "u0":
            return
        for _ in range(2000):  # until u1's first call was answered (at most ~20 s)
            if server.stats()["requests"] >= 2:
                break
            time.sleep(0.01)
        time.sleep(0.5)  # time enough for a second request, were it not held back
        seen.append(server.stats()["requests"])

    opts = RunOptions(progress=False, retry=FAST_RETRY, concurrency=1)
    summary = await run_units(
        store,
        spec(),
        [EchoUnit("u0", steps=1), EchoUnit("u1", steps=2)],
        models=factory(server),
        options=opts,
        persist=persist,
    )
    assert seen == [2] and summary.done == 2 and server.stats()["requests"] == 3


def test_run_id_depends_on_identity_only() -> None:
    a = RunSpec("generate", "x", {"model": "m", "prompt": "p#1"}, {"concurrency": 4})
    b = RunSpec("generate", "x", {"prompt": "p#1", "model": "m"}, {"concurrency": 64})
    c = RunSpec("generate", "x", {"model": "m", "prompt": "p#2"})
    assert a.id == b.id != c.id
    assert a.id.startswith("generate-")
    assert RunSpec("generate", "y", {"model": "m", "prompt": "p#1"}).id != a.id


def test_one_rate_limiter_per_provider() -> None:
    pool = ModelPool(
        lambda name: get_model(name, base_url="http://127.0.0.1:9/v1"),
        rate_limits={"*": RateLimit(rpm=60)},
    )
    a, b = pool.limited("fake/actor"), pool.limited("fake/user-sim")
    assert a.limiter is b.limiter  # type: ignore[attr-defined]
    assert a.limiter.rpm == 60  # type: ignore[attr-defined]
    assert pool.for_call("fake/actor") is not pool.for_call("fake/actor")


def test_insert_or_ignore_and_upsert(store: Store) -> None:
    row = {
        "run_id": "r",
        "system": "s",
        "benchmark": "b",
        "character": "luffy",
        "scenario": 1,
        "question_r1": "q",
        "answer_r1": "a",
        "question_r2": "q2",
        "answer_r2": "a2",
        "sources_json": "{}",
        "created_at": "now",
    }
    keys = ["system", "benchmark", "character", "scenario"]
    with store.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id="r", kind="k", name="n", created_at="t", updated_at="t", config_json="{}"
            )
        )
        assert insert_or_ignore(conn, dialogues, row, keys) is True
        assert insert_or_ignore(conn, dialogues, {**row, "answer_r1": "other"}, keys) is False
        upsert(
            conn,
            runs,
            {
                "id": "r",
                "kind": "k",
                "name": "n",
                "created_at": "t2",
                "updated_at": "t2",
                "config_json": "{}",
            },
            ["id"],
            keep=["created_at"],
        )
    with store.engine.connect() as conn:
        assert conn.execute(select(dialogues.c.answer_r1)).scalars().all() == ["a"]
        assert tuple(conn.execute(select(runs.c.created_at, runs.c.updated_at)).one()) == (
            "t",
            "t2",
        )


def test_progress_bar_shows_counts_errors_and_cost() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    summary = RunSummary(run_id="r", total=4, skipped=1, run_cost_usd=0.5)
    with RunProgress("generate x", summary, console=console) as progress:
        summary.done, summary.failed, summary.retries = 2, 1, 3
        progress.advance(summary)
    text = buffer.getvalue()
    assert "4/4" in text and "errors 1" in text and "retries 3" in text and "$0.5000" in text
    quiet = RunProgress("x", summary, console=Console(file=io.StringIO()))
    assert quiet.enabled is False


@dataclass
class MisconfiguredUnit:
    id: str

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        raise ConfigurationError("Set SOME_API_KEY to use some/model.")


async def test_a_configuration_error_stops_the_run(store: Store, server: FakeServer) -> None:
    units_ = [EchoUnit("u0", steps=1), MisconfiguredUnit("bad"), EchoUnit("u1", steps=1)]
    with pytest.raises(ConfigurationError, match="SOME_API_KEY"):
        await run(store, server, units_, concurrency=1)
    with store.engine.connect() as conn:
        statuses = dict(conn.execute(select(units.c.unit_id, units.c.status)).all())
    assert statuses == {"u0": "done"}  # the bad unit is not recorded as a failure
