"""Tables of the core pipeline, on one shared ``metadata``.

Other areas (annotation, collection) declare their tables on the same
``metadata`` in their own modules and add a step to ``migrations.MIGRATIONS``.
Columns holding structured values use JSON text so SQLite and PostgreSQL behave
the same.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

migrations_table = Table(
    "_migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", String(40), nullable=False),
)

# A run: one invocation of generate / judge / scenario generation, with everything
# needed to reproduce it (package version, models, parameters, prompt hashes).
runs = Table(
    "runs",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("config_json", Text, nullable=False),
)

# A completed model call, keyed deterministically by what was asked. Finished
# calls are never repeated: a rerun after a kill reads the response from here.
calls = Table(
    "calls",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("run_id", String(80), ForeignKey("runs.id"), nullable=False),
    Column("unit_id", String(200), nullable=False),
    Column("step", String(80), nullable=False),
    Column("role", String(40), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt_ref", String(200), nullable=False),
    Column("response_text", Text, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("latency_s", Float, nullable=False),
    Column("cost_usd", Float, nullable=True),
    Column("retries", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Index("ix_calls_run", "run_id"),
)

# A call that failed for good (after retries): kept, never silently dropped.
call_failures = Table(
    "call_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.id"), nullable=False),
    Column("unit_id", String(200), nullable=False),
    Column("step", String(80), nullable=False),
    Column("model", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# A unit of work of a run (one dialogue to generate, one item to judge ...).
units = Table(
    "units",
    metadata,
    Column("run_id", String(80), ForeignKey("runs.id"), primary_key=True),
    Column("unit_id", String(200), primary_key=True),
    Column("status", String(20), nullable=False),  # done | failed
    Column("result_json", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("updated_at", String(40), nullable=False),
)

# Generated dialogues of a new system, in the release's shape plus provenance.
dialogues = Table(
    "dialogues",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.id"), nullable=False),
    Column("system", String(200), nullable=False),
    Column("benchmark", String(200), nullable=False),
    Column("character", String(100), nullable=False),
    Column("scenario", Integer, nullable=False),
    Column("question_r1", Text, nullable=False),
    Column("answer_r1", Text, nullable=False),
    Column("question_r2", Text, nullable=False),
    Column("answer_r2", Text, nullable=False),
    Column("sources_json", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("system", "benchmark", "character", "scenario", name="uq_dialogue"),
)

# One judgment of one item by one judge: scored or unscored (raw text kept).
judgments = Table(
    "judgments",
    metadata,
    Column("id", String(80), primary_key=True),  # deterministic
    Column("run_id", String(80), ForeignKey("runs.id"), nullable=False),
    Column("mode", String(40), nullable=False),  # pointwise | pointwise-round | pairwise-vs-fans
    Column("judge_model", String(200), nullable=False),
    Column("prompt_ref", String(200), nullable=False),
    Column("rubric_ref", String(200), nullable=False),
    Column("benchmark", String(200), nullable=False),
    Column("system", String(200), nullable=False),
    Column("opponent", String(200), nullable=True),  # pairwise: the other system
    Column("order", String(10), nullable=True),  # pairwise: "AB" | "BA"
    Column("character", String(100), nullable=False),
    Column("scenario", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # scored | unscored
    Column("rationale", Text, nullable=True),
    Column("raw_text", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Index("ix_judgments_system", "system", "judge_model"),
)

# Normalised scores of a scored judgment (one row per round x metric, or per dimension
# for pairwise verdicts stored as value +1 / 0 / -1 from the system's point of view).
scores = Table(
    "scores",
    metadata,
    Column("judgment_id", String(80), ForeignKey("judgments.id"), primary_key=True),
    Column("round", Integer, primary_key=True),  # 0 = whole dialogue
    Column("metric", String(60), primary_key=True),
    Column("value", Float, nullable=False),
)
