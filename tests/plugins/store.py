"""Store fixtures: ``store``, a fresh migrated SQLite store in the test's temporary folder.

Areas that need another store (PostgreSQL too, pre-filled rows) override ``store`` in their
own conftest or module. :func:`table_rows` reads a table back, because tests assert on rows.
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


def table_rows(store: Store, table: Table) -> list[Any]:
    """Every row of ``table``."""
    with store.engine.connect() as conn:
        return list(conn.execute(select(table)).all())
