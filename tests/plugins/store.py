"""Store fixtures: ``store``, a fresh migrated SQLite store in the test's temporary folder,
and ``any_store``, the same on each store the product supports (SQLite and PostgreSQL).

Areas whose rows must hold on both override ``store`` with ``any_store`` in their module;
others (pre-filled rows) override it in their own conftest. :func:`table_rows` reads a
table back, because tests assert on rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from chatanime.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store, disposed after the test."""
    opened = open_store(str(tmp_path / "store.db"))
    yield opened
    opened.dispose()


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    """A fresh migrated store on SQLite and on PostgreSQL (``store_url`` is parametrized)."""
    opened = open_store(store_url)
    yield opened
    opened.dispose()


def table_rows(store: Store, table: Table) -> list[Any]:
    """Every row of ``table``."""
    with store.engine.connect() as conn:
        return list(conn.execute(select(table)).all())
