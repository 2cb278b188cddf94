"""Fixtures of the annotation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import chatanime.annotate  # noqa: F401  (registers the migration before any store opens)
from chatanime.store import Store, open_store
from tests.annotate.support import LiveServer


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on SQLite or PostgreSQL (see ``store_url``)."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for logic that does not depend on the database."""
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def live_server(store: Store, tmp_path: Path) -> Iterator[LiveServer]:
    """A server subprocess on the test's store (started by the test after creating data)."""
    server = LiveServer(
        store.engine.url.render_as_string(hide_password=False), tmp_path / "server.log"
    )
    try:
        yield server
    finally:
        server.stop()
