"""Stored judgments: rows, retries of unanswered items, and running one judge's units.

Shared by every judge job (pointwise, per round, diversity, and later pairwise): a unit
returns a :class:`~chatanime.judge.pointwise.JudgmentOutcome`, and
:func:`judgment_persister` writes it to ``judgments`` / ``scores`` in the transaction that
marks the unit done, so a judgment and its scores exist together or not at all.

A judgment whose judge never replied (``NO_REPLY``) is the one outcome a rerun should
change: :func:`unit_ids` gives it a fresh unit id derived from the stored failure, and
the persister replaces exactly that kind of row — never a scored one, never an invalid
reply (which a retry would only replay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from chatanime.backends.base import ChatModel
from chatanime.errors import DataError
from chatanime.judge.pointwise import NO_REPLY, JudgmentOutcome
from chatanime.pricing import PriceTable
from chatanime.runner import (
    Persist,
    RunOptions,
    RunSpec,
    RunSummary,
    insert_or_ignore,
    run_units,
    stable_hash,
)
from chatanime.store import Store
from chatanime.store.schema import judgments, scores

_CHUNK = 500
ModelFactory = Callable[[str], ChatModel]


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def unit_ids(store: Store, run_id: str, judgment_ids: Sequence[str]) -> dict[str, str]:
    """Judgment id -> unit id; a stored no-reply judgment gets a fresh (retry) unit id.

    The retry id is derived from the stored failure, so a rerun killed during the retry
    replays it, and a retry that fails again gets yet another id next time.
    """
    retry: dict[str, str] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(list(judgment_ids)):
            query = select(judgments.c.id, judgments.c.error, judgments.c.created_at).where(
                judgments.c.run_id == run_id,
                judgments.c.status == "unscored",
                judgments.c.id.in_(list(chunk)),
            )
            for jid, error, created in conn.execute(query):
                if (error or "").startswith(NO_REPLY):
                    retry[jid] = f":retry-{stable_hash([error, created], 10)}"
    return {jid: f"judge:{jid}{retry.get(jid, '')}" for jid in judgment_ids}


def judgment_persister(run_id: str) -> Persist:
    """Store an outcome; replaces only a stored no-reply judgment, never a final one."""

    def persist(conn: Connection, _unit_id: str, result: Mapping[str, Any]) -> None:
        outcome = JudgmentOutcome.model_validate(result)
        row = {
            "id": outcome.judgment_id,
            "run_id": run_id,
            "mode": outcome.mode,
            "judge_model": outcome.judge_model,
            "prompt_ref": outcome.prompt_ref,
            "rubric_ref": outcome.rubric_ref,
            "benchmark": outcome.benchmark,
            "system": outcome.system,
            "character": outcome.character,
            "scenario": outcome.scenario,
            "status": outcome.status,
            "rationale": outcome.rationale,
            "raw_text": outcome.raw_text,
            "error": outcome.error,
            "created_at": datetime.now(UTC).isoformat(),
        }
        if not insert_or_ignore(conn, judgments, row, ["id"]):
            stored = conn.execute(
                select(judgments.c.status, judgments.c.error).where(judgments.c.id == row["id"])
            ).one()
            if stored.status != "unscored" or not (stored.error or "").startswith(NO_REPLY):
                return
            conn.execute(judgments.update().where(judgments.c.id == row["id"]).values(row))
        for round_, values in outcome.scores.items():
            for metric, value in values.items():
                score = {"judgment_id": row["id"], "round": round_, "metric": metric}
                insert_or_ignore(
                    conn, scores, {**score, "value": value}, ["judgment_id", "round", "metric"]
                )

    return persist


def check_other_runs(store: Store, spec: RunSpec, judgment_ids: Sequence[str]) -> None:
    """Refuse to mix in judgments that another run of other settings already stored.

    Judgment ids do not include sampling parameters, so a run of the same judge, prompt
    and rubric with another temperature would otherwise silently keep the first run's
    rows for the items they share.
    """
    found: dict[str, int] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(list(judgment_ids)):
            query = (
                select(judgments.c.run_id, func.count())
                .where(judgments.c.id.in_(list(chunk)), judgments.c.run_id != spec.id)
                .group_by(judgments.c.run_id)
            )
            for run_id, n in conn.execute(query):
                found[run_id] = found.get(run_id, 0) + int(n)
    if found:
        run_id, n = next(iter(found.items()))
        raise DataError(
            f"{n} of these judgments already exist from another run ({run_id}) of the same "
            "judge, prompt and rubric with different sampling parameters; rerun with that "
            "run's parameters"
        )


@dataclass(frozen=True)
class StatusCounts:
    """Stored outcomes of one judge over a selection."""

    selected: int
    scored: int
    unscored: int
    no_reply: int
    """Of ``unscored``: the judge never answered (retried by the next run)."""
    missing: int
    """No judgment stored (a unit failed, or the run was stopped)."""


def status_counts(store: Store, judgment_ids: Sequence[str]) -> StatusCounts:
    scored = unscored = no_reply = 0
    with store.engine.connect() as conn:
        for chunk in _chunks(list(judgment_ids)):
            query = select(judgments.c.status, judgments.c.error).where(
                judgments.c.id.in_(list(chunk))
            )
            for status, error in conn.execute(query):
                scored += status == "scored"
                unscored += status == "unscored"
                no_reply += status == "unscored" and (error or "").startswith(NO_REPLY)
    total = len(judgment_ids)
    return StatusCounts(total, scored, unscored, no_reply, total - scored - unscored)


@dataclass
class JudgeRun:
    """One judge's invocation: the runner's summary and the stored outcomes."""

    judge: str
    summary: RunSummary
    counts: StatusCounts
    repaired: int
    """Judgments of this selection that needed at least one repair request."""


def all_complete(runs: Iterable[JudgeRun]) -> bool:
    """Every selected item has a final judgment from every judge, nothing aborted."""
    return all(
        r.counts.missing == 0 and r.counts.no_reply == 0 and not r.summary.aborted for r in runs
    )


async def run_judge(
    store: Store,
    spec: RunSpec,
    judge_model: str,
    units: Sequence[Any],
    judgment_ids: Sequence[str],
    *,
    models: ModelFactory,
    options: RunOptions,
    prices: PriceTable | None,
    persist: Persist | None = None,
    description: str = "judge",
) -> JudgeRun:
    """Run one judge's units (shared by the pointwise, diversity and pairwise jobs).

    ``persist`` writes a unit's outcome (default: :func:`judgment_persister`);
    ``description`` heads the progress bar, followed by the judge model.
    """
    check_other_runs(store, spec, judgment_ids)
    built = {judge_model: models(judge_model)}  # a missing key stops us before any call

    def model(name: str) -> ChatModel:
        if name not in built:
            built[name] = models(name)
        return built[name]

    summary = await run_units(
        store,
        spec,
        units,
        models=model,
        options=replace(options, description=f"{description} {judge_model}"),
        prices=prices,
        persist=persist or judgment_persister(spec.id),
    )
    repaired = sum(bool(r.get("repaired")) for r in summary.results.values())
    return JudgeRun(judge_model, summary, status_counts(store, judgment_ids), repaired)
