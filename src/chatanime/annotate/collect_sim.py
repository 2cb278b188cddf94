"""Round 2 of a collected dialogue: the user simulator reacting to the respondent's answer.

The question is produced exactly as for a model (:class:`chatanime.simulator.UserSimulator`:
same prompt, same validation, same re-ask on a rejected turn), so fans and models answer
round-2 questions made the same way. It runs off the request: the round-1 answer is
committed and acknowledged first, then a background worker claims the dialogue with a
*lease* (a conditional UPDATE, so two requests or two processes never generate twice),
renews it while working, and stores the question, or a failure, under that lease only.
A server killed mid-generation leaves an expiring lease; the next look at the page
claims the dialogue again. Nothing the respondent wrote is touched by any of this.

Every call is a ``collect_sim_calls`` row (accepted / rejected with reasons / error with
retries), and the kept question records the simulator's model, prompt ref and attempt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from chatanime.annotate.collect_tables import collect_dialogues, collect_studies, sim_calls
from chatanime.annotate.security import new_id
from chatanime.annotate.study_rows import now_iso
from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    ChatResponse,
    GenerationParams,
    ModelError,
)
from chatanime.backends.retry import RetryEvent, RetryingModel, RetryPolicy
from chatanime.characters import Character
from chatanime.scenarios import Scenario
from chatanime.simulator import (
    UserSimulator,
    UserSimulatorFailed,
    UserTurnRules,
    character_names,
    check_user_turn,
)

ModelFactory = Callable[[str], ChatModel]
LEASE_S = 15.0
SLOW_AFTER_S = 8.0


@dataclass(frozen=True)
class Round2Job:
    """A claimed dialogue: what the simulator needs, and the lease that lets us write."""

    dialogue_id: str
    lease_id: str
    run: int
    character: Character
    scenario: Scenario
    answer_r1: str
    language: str
    settings: dict[str, Any]


def _claimable(status: str | None, lease_until: float | None, now: float) -> bool:
    return status == "pending" or (status == "running" and (lease_until or 0.0) < now)


def claim(engine: Engine, dialogue_id: str, lease_s: float = LEASE_S) -> Round2Job | None:
    """Take the dialogue's round-2 job if it is waiting (or its lease ran out), else None."""
    d = collect_dialogues.c
    now = time.time()
    with engine.begin() as conn:
        row = conn.execute(
            select(collect_dialogues, collect_studies.c.config_json)
            .join(collect_studies, collect_studies.c.id == d.study_id)
            .where(d.id == dialogue_id)
        ).first()
        if row is None or row.answer_r1 is None or row.question_r2 is not None:
            return None
        if not _claimable(row.sim_status, row.sim_lease_until, now):
            return None
        same_lease = (
            d.sim_lease_id.is_(None)
            if row.sim_lease_id is None
            else (d.sim_lease_id == row.sim_lease_id)
        )
        lease_id = new_id()
        taken = conn.execute(
            update(collect_dialogues)
            .where(and_(d.id == dialogue_id, d.sim_status == row.sim_status, same_lease))
            .values(
                sim_status="running",
                sim_lease_id=lease_id,
                sim_lease_until=now + lease_s,
                sim_runs=d.sim_runs + 1,
                sim_started_at=now_iso(),
            )
        ).rowcount
    if taken != 1:
        return None
    config = json.loads(row.config_json)
    return Round2Job(
        dialogue_id=dialogue_id,
        lease_id=lease_id,
        run=int(row.sim_runs or 0) + 1,
        character=Character.model_validate(config["characters"][row.character]),
        scenario=Scenario.model_validate(config["scenarios"][str(row.scenario)]),
        answer_r1=row.answer_r1,
        language=str(config["language"]),
        settings=dict(config["simulator"]),
    )


def _under_lease(job: Round2Job) -> Any:
    d = collect_dialogues.c
    return and_(d.id == job.dialogue_id, d.sim_lease_id == job.lease_id)


def renew(engine: Engine, job: Round2Job, lease_s: float = LEASE_S) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(collect_dialogues)
                .where(_under_lease(job))
                .values(sim_lease_until=time.time() + lease_s)
            ).rowcount
        )


def finish_ok(engine: Engine, job: Round2Job, text: str, attempt: int, prompt_ref: str) -> bool:
    """Store the question, if the lease is still ours and no question is stored."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(collect_dialogues)
                .where(_under_lease(job), collect_dialogues.c.question_r2.is_(None))
                .values(
                    question_r2=text,
                    q2_at=now_iso(),
                    sim_status="ready",
                    sim_lease_id=None,
                    sim_lease_until=None,
                    sim_error=None,
                    sim_model=str(job.settings["model"]),
                    sim_prompt_ref=prompt_ref,
                    sim_attempt=attempt,
                )
            ).rowcount
        )


def finish_failed(engine: Engine, job: Round2Job, error: str) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(collect_dialogues)
                .where(_under_lease(job))
                .values(
                    sim_status="failed",
                    sim_lease_id=None,
                    sim_lease_until=None,
                    sim_failures=collect_dialogues.c.sim_failures + 1,
                    sim_error=error[:4000],
                )
            ).rowcount
        )


def request_retry(engine: Engine, dialogue_id: str) -> bool:
    """A failed job goes back to the queue (the respondent asked, or their page did)."""
    d = collect_dialogues.c
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(collect_dialogues)
                .where(d.id == dialogue_id, d.sim_status == "failed", d.question_r2.is_(None))
                .values(sim_status="pending", sim_error=None)
            ).rowcount
        )


def needs_worker(status: str | None, lease_until: float | None) -> bool:
    """Whether a look at this dialogue should (re)start its job."""
    return _claimable(status, lease_until, time.time())


class RecordingContext:
    """The :class:`chatanime.runner.CallContext` of one round-2 job: each call goes through
    the retry wrapper, and every HTTP request is a ``collect_sim_calls`` row: ``retry`` for
    a failed try that will be retried (written at once, so the waiting page can say it is
    retrying), then ``error``, or ``accepted`` / ``rejected`` with the simulator's verdict."""

    def __init__(
        self,
        engine: Engine,
        job: Round2Job,
        model_for: ModelFactory,
        policy: RetryPolicy,
        rules: UserTurnRules,
    ) -> None:
        self._engine = engine
        self._job = job
        self._model_for = model_for
        self._policy = policy
        self._rules = rules
        self._names = character_names(job.character)
        self._last_write: asyncio.Future[None] | None = None

    async def call(
        self,
        *,
        step: str,
        role: str,
        model: str,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        prompt_ref: str,
    ) -> ChatResponse:
        def on_retry(event: RetryEvent) -> None:
            detail = f"{_error(event.error)}; retrying in {event.delay:.1f} s"
            self._write(self._row(step, model, prompt_ref, "retry", None, detail, event.attempt))

        wrapped = RetryingModel(self._model_for(model), self._policy, on_retry=on_retry)
        try:
            response = await wrapped.chat(messages, params)
        except ModelError as exc:
            error = _error(exc)
            await self._write(
                self._row(step, model, prompt_ref, "error", None, error, wrapped.retries)
            )
            raise
        verdict = check_user_turn(response.text, names=self._names, rules=self._rules)
        row = self._row(
            step,
            model,
            prompt_ref,
            "accepted" if verdict.ok else "rejected",
            response.text,
            "; ".join(verdict.reasons) or None,
            wrapped.retries,
        )
        row["latency_s"] = response.latency_s
        await self._write(row)
        return response

    def _row(
        self,
        step: str,
        model: str,
        prompt_ref: str,
        outcome: str,
        text: str | None,
        detail: str | None,
        retries: int,
    ) -> dict[str, Any]:
        return {
            "dialogue_id": self._job.dialogue_id,
            "run": self._job.run,
            "step": step,
            "model": model,
            "prompt_ref": prompt_ref,
            "outcome": outcome,
            "text": text,
            "detail": detail,
            "retries": retries,
            "latency_s": None,
            "created_at": now_iso(),
        }

    def _write(self, row: dict[str, Any]) -> asyncio.Future[None]:
        """Insert after the previous write (rows keep the order of the requests)."""
        previous = self._last_write

        async def write() -> None:
            if previous is not None:
                await previous
            await asyncio.to_thread(_insert_call, self._engine, row)

        self._last_write = asyncio.ensure_future(write())
        return self._last_write


def _insert_call(engine: Engine, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(sim_calls).values(**row))


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def produce_round2(engine: Engine, job: Round2Job, model_for: ModelFactory) -> bool:
    """Run the simulator for a claimed job and store its outcome; True if a question was
    stored. Every failure (model errors, rejected turns, the deadline) is stored as a value."""
    s = job.settings
    simulator = UserSimulator(str(s["model"]), job.language, attempts=int(s["attempts"]))
    policy = RetryPolicy(
        max_attempts=int(s["max_retries"]),
        base_delay=float(s["base_delay"]),
        max_delay=float(s["max_delay"]),
    )
    ctx = RecordingContext(engine, job, model_for, policy, simulator.effective_rules())
    ask = simulator.ask(
        ctx,
        character=job.character,
        scenario=job.scenario,
        answer_r1=job.answer_r1,
        params=GenerationParams(timeout_s=float(s["timeout_s"])),
    )
    try:
        text, attempt = await asyncio.wait_for(ask, float(s["deadline_s"]))
    except TimeoutError:
        error = f"no valid question within {float(s['deadline_s']):g} s"
    except (ModelError, UserSimulatorFailed) as exc:
        error = _error(exc)
    except Exception as exc:  # a configuration problem is a recorded failure, not a crash
        error = _error(exc)
    else:
        return await asyncio.to_thread(finish_ok, engine, job, text, attempt, simulator.prompt.ref)
    await asyncio.to_thread(finish_failed, engine, job, error)
    return False


def round2_status(engine: Engine, dialogue_id: str) -> dict[str, Any]:
    """What the waiting page shows: state, elapsed time, failed calls of this run."""
    d = collect_dialogues.c
    with engine.connect() as conn:
        row = conn.execute(select(collect_dialogues).where(d.id == dialogue_id)).one()
        failed_calls = conn.execute(
            select(func.count())
            .select_from(sim_calls)
            .where(
                sim_calls.c.dialogue_id == dialogue_id,
                sim_calls.c.run == row.sim_runs,
                sim_calls.c.outcome != "accepted",
            )
        ).scalar_one()
    started = row.sim_started_at
    elapsed = (
        (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds() if started else 0.0
    )
    state = {"pending": "waiting", "running": "running", "ready": "ready", "failed": "failed"}
    return {
        "state": state.get(row.sim_status or "", "none"),
        "elapsed_s": round(max(0.0, elapsed), 1),
        "failed_calls": int(failed_calls),
        "slow": elapsed > SLOW_AFTER_S or failed_calls > 0,
        "runs": int(row.sim_runs or 0),
        "lease_until": row.sim_lease_until,
    }
