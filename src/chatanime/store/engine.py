"""Opening the store: URL resolution, SQLite pragmas, migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from chatanime.store.migrations import apply_migrations

STORE_ENV = "CHATANIME_STORE"


def default_store_url() -> str:
    """``CHATANIME_STORE`` if set, else SQLite in the user data directory."""
    env = os.environ.get(STORE_ENV)
    if env:
        return env
    root = Path(platformdirs.user_data_dir("chatanime"))
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'chatanime.db'}"


def normalise_url(url: str) -> str:
    """Accept a bare file path for SQLite and plain ``postgresql://`` URLs."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the web app read while a writer commits; busy_timeout turns
    # brief lock contention into waiting instead of "database is locked".
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """A migrated database. ``engine`` is a plain SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``."""
    resolved = normalise_url(url or default_store_url())
    if resolved.startswith("sqlite"):
        path = resolved.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(resolved, pool_pre_ping=True, pool_size=10, max_overflow=20)
    with engine.begin() as conn:
        apply_migrations(conn)
    return Store(engine)
