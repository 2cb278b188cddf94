"""The real server on loopback: 20 respondents at once, a crash mid-generation, log hygiene.

Bounded by construction: a fixed number of respondents and dialogues, per-request timeouts,
bounded status polling. The simulator is the fake model server's ``fake/user-sim``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from chatanime.annotate.collect_study import CreatedCollection
from chatanime.annotate.collect_tables import collect_dialogues, respondents, sim_calls
from chatanime.backends.fake_server import FakeServer
from chatanime.characters import get_character
from chatanime.simulator import character_names, check_user_turn
from chatanime.store import Store
from tests.annotate.collect_support import CollectServer, answer, fields, make_collection

CHARACTERS = ("luffy", "naruto", "gintoki", "natsume", "kirito", "oreki", "levi", "hinata")


@dataclass
class Ack:
    """An answer the server acknowledged (303 after commit)."""

    token: str
    position: int
    round: int
    text: str


@dataclass
class Run:
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def server(store: Store, tmp_path: Path) -> Iterator[CollectServer]:
    live = CollectServer(
        store.engine.url.render_as_string(hide_password=False), tmp_path / "server.log"
    )
    try:
        yield live
    finally:
        live.stop()


def _wait_ready(client: httpx.Client, path: str, stop: threading.Event | None) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        if client.get(f"{path}/status").json()["state"] == "ready":
            return True
        time.sleep(0.05)
    return False


def _respond(
    base_url: str,
    token: str,
    run: Run,
    text: Callable[[str, int, int], str],
    start: threading.Barrier | None = None,
    stop: threading.Event | None = None,
) -> None:
    """One respondent as a browser would: open, draft, round 1, wait, round 2, next."""
    with httpx.Client(base_url=base_url, timeout=60.0, follow_redirects=False) as client:
        if start is not None:
            start.wait(timeout=60)
        try:
            location = client.get(f"/r/{token}").headers["location"]
            while not location.endswith("/done") and not (stop and stop.is_set()):
                position = int(location.rsplit("/", 1)[1])
                csrf, dialogue = fields(client.get(location).text)
                form = {"csrf": csrf, "dialogue": dialogue}
                a1, a2 = text(token, position, 1), text(token, position, 2)
                if 'id="q2"' not in client.get(location).text:
                    client.post(f"{location}/draft", data={**form, "round": "1", "text": a1[:5]})
                    sent = client.post(f"{location}/round1", data={**form, "text": a1})
                    if sent.status_code != 303:
                        run.errors.append(f"r1 {sent.status_code}: {sent.text[:200]}")
                        return
                    run.acks.append(Ack(token, position, 1, a1))
                if not _wait_ready(client, location, stop):
                    if not (stop and stop.is_set()):
                        run.errors.append(f"no round-2 question for {location}")
                    return
                sent = client.post(f"{location}/round2", data={**form, "text": a2})
                if sent.status_code != 303:
                    run.errors.append(f"r2 {sent.status_code}: {sent.text[:200]}")
                    return
                run.acks.append(Ack(token, position, 2, a2))
                location = sent.headers["location"]
        except httpx.TransportError as exc:
            run.errors.append(f"transport: {exc!r}")


def _text(token: str, position: int, round_: int) -> str:
    return answer(position, round_) + token[:6]


def _stored(store: Store, study: CreatedCollection) -> dict[tuple[str, int, int], str]:
    """(token, position, round) -> stored answer."""
    names = {i.respondent: i.token for i in study.invites}
    out: dict[tuple[str, int, int], str] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(respondents.c.name, collect_dialogues).join(
                respondents, respondents.c.id == collect_dialogues.c.respondent_id
            )
        ).all()
    for row in rows:
        for round_, value in ((1, row.answer_r1), (2, row.answer_r2)):
            if value is not None:
                out[(names[row.name], row.position, round_)] = value
    return out


def _threads(
    base_url: str, study: CreatedCollection, runs: list[Run], **kwargs: object
) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=_respond, args=(base_url, inv.token, run, _text), kwargs=kwargs, daemon=True
        )
        for inv, run in zip(study.invites, runs, strict=True)
    ]
    for t in threads:
        t.start()
    return threads


def test_twenty_respondents_at_once_lose_and_duplicate_nothing(
    store: Store, server: CollectServer, fake_server: FakeServer
) -> None:
    study = make_collection(
        store, characters=CHARACTERS[:5], per_character=4, scenarios=(1, 2, 3, 4, 5, 6, 7, 8)
    )
    assert len(study.invites) == 20 and study.n_dialogues == 40
    server.start()
    runs = [Run() for _ in study.invites]
    threads = _threads(server.base_url, study, runs, start=threading.Barrier(20))
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert [e for r in runs for e in r.errors] == []
    acks = [a for r in runs for a in r.acks]
    assert len(acks) == 80
    assert _stored(store, study) == {(a.token, a.position, a.round): a.text for a in acks}
    with store.engine.connect() as conn:
        dialogues = conn.execute(select(collect_dialogues)).all()
        n_calls = conn.execute(select(func.count()).select_from(sim_calls)).scalar_one()
    assert all(d.sim_runs == 1 and d.draft_r1 is None for d in dialogues)
    for d in dialogues:
        verdict = check_user_turn(d.question_r2, names=character_names(get_character(d.character)))
        assert verdict.ok and "听好了第" in d.question_r2
    stats = fake_server.stats()
    assert n_calls == stats["requests_by_model"]["fake/user-sim"] == 40
    assert stats["repeated_ok"] == 0

    log = server.log()
    assert "GET /r/[redacted]" in log and "POST /r/[redacted]/1/round1" in log
    for secret in [study.admin_token, *(i.token for i in study.invites)]:
        assert secret not in log


def test_a_killed_server_keeps_every_acknowledged_answer_and_resumes_round2(
    store: Store,
    server: CollectServer,
    fake_server_factory: Callable[..., FakeServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = fake_server_factory(latency_ms=250)
    monkeypatch.setenv("CHATANIME_FAKE_URL", slow.base_url)
    study = make_collection(
        store, characters=CHARACTERS[:4], per_character=2, scenarios=(1, 2, 3, 4)
    )
    server.start()
    runs = [Run() for _ in study.invites]
    stop = threading.Event()
    threads = _threads(server.base_url, study, runs, stop=stop)

    def generating() -> set[str]:
        with store.engine.connect() as conn:
            return set(
                conn.execute(
                    select(collect_dialogues.c.id).where(
                        collect_dialogues.c.sim_status == "running"
                    )
                ).scalars()
            )

    deadline = time.monotonic() + 60
    while len(generating()) < 2 or sum(len(r.acks) for r in runs) < 4:
        assert time.monotonic() < deadline, "the respondents never got going"
        time.sleep(0.02)
    server.kill()
    dead = generating()
    assert dead  # the kill landed while questions were being made: their leases are orphaned
    stop.set()
    for t in threads:
        t.join(timeout=60)
    acked = [a for r in runs for a in r.acks]
    stored = _stored(store, study)
    for ack in acked:
        assert stored[(ack.token, ack.position, ack.round)] == ack.text
    assert len(acked) < 2 * study.n_dialogues  # the kill really interrupted the work

    server.start()  # same store, fresh process; the dead leases run out and are re-claimed
    finish = [Run() for _ in study.invites]
    for t in _threads(server.base_url, study, finish):
        t.join(timeout=120)
    assert [e for r in finish for e in r.errors] == []
    final = _stored(store, study)
    assert len(final) == 2 * study.n_dialogues
    for ack in acked:
        assert final[(ack.token, ack.position, ack.round)] == ack.text
    with store.engine.connect() as conn:
        rows = conn.execute(select(collect_dialogues)).all()
    assert all(r.question_r2 and r.sim_status == "ready" for r in rows)
    assert all(r.sim_runs == 2 for r in rows if r.id in dead)  # resumed after the crash
