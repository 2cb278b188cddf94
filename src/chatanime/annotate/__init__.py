"""Human evaluation: studies, the annotators' web app, rating export and agreement analysis.

Importing this package registers the ``0100_annotate`` and ``0110_collect`` migration steps,
so any store opened afterwards (or passed through :func:`ensure_schema`) has the annotation
and collection tables.
"""

from __future__ import annotations

from sqlalchemy import Engine

from chatanime.annotate import collect_tables, tables
from chatanime.store import Store
from chatanime.store.migrations import apply_migrations


def ensure_schema(store: Store | Engine) -> None:
    """Apply pending migrations: a store opened before this package was imported lacks ours."""
    engine = store if isinstance(store, Engine) else store.engine
    with engine.begin() as conn:
        apply_migrations(conn)


__all__ = ["collect_tables", "ensure_schema", "tables"]
