"""Tables of a collection study (fans answering as their character), on the shared ``metadata``.

Same principles as the rating study's tables: the study row snapshots everything a
respondent's page and the user simulator need (benchmark characters and scenarios, cards,
the quiz, the simulator settings), so a running server needs neither the benchmark folder
nor the release, and every answer stays tied to exactly what the respondent saw.
Respondents are addressed by a secret token stored only as a hash; dialogues carry random
opaque ids and are always looked up through (respondent, position).

A dialogue row is the unit of work and of acknowledgement: round 1, the simulated
round-2 question, round 2, the drafts and the timings live on it, and each is written by
one conditional UPDATE, so an acknowledged answer is a committed column. Every simulator
call is a row of ``collect_sim_calls`` (attempts, faults, rejections and their reasons).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from chatanime.annotate.tables import study_columns
from chatanime.store.migrations import Migration, create_tables, register_migration
from chatanime.store.schema import metadata

# config_json: benchmark ref, language, limit, characters + scenarios snapshots, quiz, simulator
collect_studies = Table("collect_studies", metadata, *study_columns())

respondents = Table(
    "collect_respondents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("study_id", String(40), ForeignKey("collect_studies.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("character", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    # The screening quiz: answers, per-question correctness, score; NULL until taken.
    Column("quiz_json", Text, nullable=True),
    Column("quiz_score", Integer, nullable=True),
    Column("quiz_passed", Boolean, nullable=True),
    Column("quiz_at", String(40), nullable=True),
    UniqueConstraint("study_id", "name", name="uq_collect_respondent_name"),
)

collect_dialogues = Table(
    "collect_dialogues",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("study_id", String(40), ForeignKey("collect_studies.id"), nullable=False),
    Column("respondent_id", String(40), ForeignKey("collect_respondents.id"), nullable=False),
    Column("position", Integer, nullable=False),  # 1-based, the respondent's fixed order
    Column("character", String(100), nullable=False),
    Column("scenario", Integer, nullable=False),
    Column("question_r1", Text, nullable=False),  # snapshot of the scenario's opening line
    Column("draft_r1", Text, nullable=True),
    Column("draft_r2", Text, nullable=True),
    Column("draft_at", String(40), nullable=True),
    Column("r1_opened_at", String(40), nullable=True),
    Column("answer_r1", Text, nullable=True),
    Column("a1_at", String(40), nullable=True),
    # pending -> running -> ready | failed (failed -> pending on retry); NULL before round 1
    Column("sim_status", String(20), nullable=True),
    Column("sim_lease_id", String(40), nullable=True),
    Column("sim_lease_until", Float, nullable=True),  # epoch seconds
    Column("sim_runs", Integer, nullable=False, default=0),
    Column("sim_failures", Integer, nullable=False, default=0),
    Column("sim_error", Text, nullable=True),
    Column("sim_started_at", String(40), nullable=True),
    Column("sim_model", String(200), nullable=True),
    Column("sim_prompt_ref", String(200), nullable=True),
    Column("sim_attempt", Integer, nullable=True),  # which validated attempt was kept
    Column("question_r2", Text, nullable=True),
    Column("q2_at", String(40), nullable=True),
    Column("r2_opened_at", String(40), nullable=True),
    Column("answer_r2", Text, nullable=True),
    Column("a2_at", String(40), nullable=True),
    UniqueConstraint("respondent_id", "position", name="uq_collect_dialogue_position"),
    UniqueConstraint("study_id", "character", "scenario", name="uq_collect_dialogue_cell"),
    Index("ix_collect_dialogues_study", "study_id"),
)

sim_calls = Table(
    "collect_sim_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dialogue_id", String(40), ForeignKey("collect_dialogues.id"), nullable=False),
    Column("run", Integer, nullable=False),  # the dialogue's sim_runs when the call was made
    Column("step", String(40), nullable=False),  # usersim#1, usersim#2, ...
    Column("model", String(200), nullable=False),
    Column("prompt_ref", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),  # accepted | rejected | error
    Column("text", Text, nullable=True),
    Column("detail", Text, nullable=True),  # rejection reasons or the error
    Column("retries", Integer, nullable=False),
    Column("latency_s", Float, nullable=True),
    Column("created_at", String(40), nullable=False),
    Index("ix_collect_sim_calls_dialogue", "dialogue_id"),
)

COLLECT_TABLES = (collect_studies, respondents, collect_dialogues, sim_calls)

register_migration(Migration("0110_collect", create_tables(*COLLECT_TABLES)))
