"""PostgreSQL and Chromium fixtures (the services ``scripts/services.sh`` provides).

Outside CI a missing service skips its tests with the command that would provide it; in CI
(``CI=true``) a missing service fails them, so a broken services script cannot turn the
suite green by skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "CHATANIME_TEST_PG_URL"
PG_URL_FILE = REPO / ".pgdata" / "url"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HINT = "run scripts/services.sh"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure; {HINT})", pytrace=False)
    pytest.skip(f"{reason}; {HINT}")


def _configured_pg_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    if url:
        return url
    if PG_URL_FILE.is_file():
        return PG_URL_FILE.read_text(encoding="utf-8").strip() or None
    return None


def _libpq(url: str) -> str:
    """psycopg wants ``postgresql://``, SQLAlchemy URLs may carry ``+psycopg``."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the test PostgreSQL server's database (``CHATANIME_TEST_PG_URL``/.pgdata/url)."""
    url = _configured_pg_url()
    if url is None:
        unavailable(f"PostgreSQL is not configured ({PG_ENV} unset, no {PG_URL_FILE})")
    try:
        import psycopg

        with psycopg.connect(_libpq(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        unavailable(f"PostgreSQL at {url} is not reachable ({type(exc).__name__}: {exc})")
    return url


def create_pg_database(server_url: str, prefix: str = "t") -> str:
    """A fresh, uniquely named database on the server of ``server_url``; returns its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = _with_database(_libpq(server_url), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(server_url, name)


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    admin = _with_database(_libpq(url), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a new PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = request.getfixturevalue("pg_url")
    url = create_pg_database(server)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (never Playwright's own download).

    Module-scoped: Playwright's sync API keeps an event loop of its own, which must be gone
    before pytest-asyncio runs coroutine tests of other modules in the same thread.
    """
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"the playwright package is not installed ({exc})")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where browser tests save screenshots (gitignored ``artifacts/``)."""
    folder = REPO / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium_path() -> str | None:
    """For scripts that want the same browser outside pytest."""
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
