"""Synthetic judge and pairwise rows in a real store, with planted effects the report must show.

Used by the report tests, the browser test and bench/bench_report.py. Scores follow
``3 + offset[system] + style_effect * z(answer length) + noise`` clipped to 1..5, so the
tests know which system must lead and that style control has something to remove.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, insert, select

from chatanime.corpus import Corpus
from chatanime.report.scores import DIMENSIONS, METRICS
from chatanime.store import Store
from chatanime.store import schema as t

NOW = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def _run(conn: Connection, run_id: str, kind: str) -> None:
    exists = conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first()
    if exists is None:
        conn.execute(
            insert(t.runs).values(
                id=run_id, kind=kind, name=run_id, created_at=NOW, updated_at=NOW, config_json="{}"
            )
        )


def _jid(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:40]


def insert_judge_scores(
    store: Store,
    corpus: Corpus,
    judge: str = "fake/judge-a",
    *,
    offsets: Mapping[str, float] | None = None,
    style_effect: float = 0.0,
    noise: float = 0.6,
    unscored: Sequence[tuple[str, str, int]] = (),
    seed: int = 0,
    benchmark: str = "chatanime",
) -> int:
    """Pointwise judgments (per round x metric) for every dialogue of ``corpus``; returns count.

    ``unscored`` items (system, character, scenario) are stored with status ``unscored``.
    """
    rng = np.random.default_rng(seed)
    offsets = offsets or {}
    lengths = np.array([len(d.a1) + len(d.a2) for d in corpus.dialogues], dtype=float)
    z = (lengths - lengths.mean()) / (lengths.std() or 1.0)
    judgments, scores = [], []
    skip = set(unscored)
    for d, zi in zip(corpus.dialogues, z, strict=True):
        jid = _jid("pw", judge, d.system, d.character, d.scenario)
        status = "unscored" if (d.system, d.character, d.scenario) in skip else "scored"
        judgments.append(
            dict(
                id=jid,
                run_id=f"run-{judge}",
                mode="pointwise",
                judge_model=judge,
                prompt_ref="p",
                rubric_ref="r",
                benchmark=benchmark,
                system=d.system,
                opponent=None,
                order=None,
                character=d.character,
                scenario=d.scenario,
                status=status,
                rationale=None,
                raw_text="{}",
                error=None,
                created_at=NOW,
            )
        )
        if status != "scored":
            continue
        base = 3.0 + offsets.get(d.system, 0.0) + style_effect * zi
        raw = base + rng.normal(0.0, noise, size=(2, len(METRICS)))
        values = np.clip(np.rint(raw), 1, 5)
        for r in (1, 2):
            for k, m in enumerate(METRICS):
                scores.append(
                    dict(judgment_id=jid, round=r, metric=m, value=float(values[r - 1, k]))
                )
    with store.engine.begin() as conn:
        _run(conn, f"run-{judge}", "judge")
        conn.execute(insert(t.judgments), judgments)
        conn.execute(insert(t.scores), scores)
    return len(judgments)


def insert_pairwise(
    store: Store,
    corpus: Corpus,
    judge: str = "fake/judge-pair",
    *,
    win_prob: Mapping[str, float] | None = None,
    flip_prob: float = 0.1,
    seed: int = 0,
    benchmark: str = "chatanime",
) -> int:
    """Pairwise-vs-fans judgments in both orders for every non-human dialogue of ``corpus``."""
    rng = np.random.default_rng(seed)
    win_prob = win_prob or {}
    judgments, scores = [], []
    for d in corpus.dialogues:
        if d.system == "human":
            continue
        p = win_prob.get(d.system, 0.4)
        verdicts = {dim: float(rng.choice([1, 0, -1], p=[p, 0.2, 0.8 - p])) for dim in DIMENSIONS}
        for order in ("AB", "BA"):
            jid = _jid("pair", judge, d.system, d.character, d.scenario, order)
            judgments.append(
                dict(
                    id=jid,
                    run_id=f"run-pair-{judge}",
                    mode="pairwise-vs-fans",
                    judge_model=judge,
                    prompt_ref="p",
                    rubric_ref="r",
                    benchmark=benchmark,
                    system=d.system,
                    opponent="human",
                    order=order,
                    character=d.character,
                    scenario=d.scenario,
                    status="scored",
                    rationale=None,
                    raw_text="{}",
                    error=None,
                    created_at=NOW,
                )
            )
            for dim, v in verdicts.items():
                flipped = order == "BA" and rng.random() < flip_prob
                value = -v if flipped and v != 0 else (0.0 if flipped else v)
                scores.append(dict(judgment_id=jid, round=0, metric=dim, value=value))
    with store.engine.begin() as conn:
        _run(conn, f"run-pair-{judge}", "judge")
        conn.execute(insert(t.judgments), judgments)
        conn.execute(insert(t.scores), scores)
    return len(judgments)


def insert_judged_diversity(
    store: Store,
    corpus: Corpus,
    judge: str,
    scores: Mapping[str, float],
    *,
    unscored: Sequence[tuple[str, str]] = (),
    benchmark: str = "chatanime",
) -> int:
    """One diversity judgment per (system, character) of ``corpus`` with ``scores[system]``."""
    pairs = sorted({(d.system, d.character) for d in corpus.dialogues})
    judgments, rows = [], []
    for system, character in pairs:
        jid = _jid("div", judge, system, character)
        status = "unscored" if (system, character) in set(unscored) else "scored"
        judgments.append(
            dict(
                id=jid,
                run_id=f"run-div-{judge}",
                mode="diversity",
                judge_model=judge,
                prompt_ref="p",
                rubric_ref="r",
                benchmark=benchmark,
                system=system,
                opponent=None,
                order=None,
                character=character,
                scenario=0,
                status=status,
                rationale=None,
                raw_text="{}",
                error=None,
                created_at=NOW,
            )
        )
        if status == "scored":
            rows.append(dict(judgment_id=jid, round=0, metric="diversity", value=scores[system]))
    with store.engine.begin() as conn:
        _run(conn, f"run-div-{judge}", "judge")
        conn.execute(insert(t.judgments), judgments)
        conn.execute(insert(t.scores), rows)
    return len(judgments)
