"""Tables of the annotation study, on the store's shared ``metadata``.

Items are *snapshots*: the dialogue text (and, in the study row, the character cards and
rubric) is copied at creation, so the app runs without the release mounted and every rating
stays tied to exactly what the annotator saw. Annotators are addressed by a secret token that
is stored only as a hash; items and assignments carry random opaque ids so that nothing an
annotator sees can be incremented to reach another person's work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from chatanime.store.migrations import Migration, create_tables, register_migration
from chatanime.store.schema import metadata


def study_columns() -> list[Column[Any]]:
    """The study row of either kind of study (rating, collection).

    Both kinds are created, found and administered by the same code
    (:mod:`chatanime.annotate.study_rows`, :mod:`chatanime.annotate.admin_session`), which
    relies on exactly these columns. ``config_json`` is the kind's snapshot.
    """
    return [
        Column("id", String(40), primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("created_at", String(40), nullable=False),
        Column("config_json", Text, nullable=False),
        Column("admin_token_hash", String(64), nullable=False, unique=True),
        # Server-side HMAC key for CSRF tokens and admin cookies; persisted so that forms
        # stay valid across a restart of the server.
        Column("secret_key", String(64), nullable=False),
    ]


# config_json: systems, characters, scenarios, overlap, language, seed, rubric + card snapshots
studies = Table("annotate_studies", metadata, *study_columns())

items = Table(
    "annotate_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("study_id", String(40), ForeignKey("annotate_studies.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # dialogue | diversity
    Column("system", String(200), nullable=False),
    Column("character", String(100), nullable=False),
    Column("scenario", Integer, nullable=True),  # NULL for a diversity set
    Column("set_index", Integer, nullable=True),  # which diversity set of (system, character)
    Column("payload_json", Text, nullable=False),  # the text shown, frozen at creation
    Index("ix_annotate_items_study", "study_id"),
)

annotators = Table(
    "annotate_annotators",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("study_id", String(40), ForeignKey("annotate_studies.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("study_id", "name", name="uq_annotate_annotator_name"),
)

assignments = Table(
    "annotate_assignments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("study_id", String(40), ForeignKey("annotate_studies.id"), nullable=False),
    Column("annotator_id", String(40), ForeignKey("annotate_annotators.id"), nullable=False),
    Column("item_id", String(40), ForeignKey("annotate_items.id"), nullable=False),
    Column("position", Integer, nullable=False),  # 1-based, the annotator's fixed order
    Column("comment", Text, nullable=True),
    Column("completed_at", String(40), nullable=True),
    UniqueConstraint("annotator_id", "position", name="uq_annotate_assignment_position"),
    UniqueConstraint("annotator_id", "item_id", name="uq_annotate_assignment_item"),
)

# One row per (assignment, metric): the primary key is what makes a double submit
# an update instead of a duplicate.
ratings = Table(
    "annotate_ratings",
    metadata,
    Column("assignment_id", String(40), ForeignKey("annotate_assignments.id"), primary_key=True),
    Column("metric", String(60), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

ANNOTATE_TABLES = (studies, items, annotators, assignments, ratings)

register_migration(Migration("0100_annotate", create_tables(*ANNOTATE_TABLES)))
