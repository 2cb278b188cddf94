"""Helpers of the kill -9 tests: a job killed mid-run in a subprocess, then rerun.

Shared by the generate and judge jobs' tests, which check the same promise of the runner
(a rerun repeats and duplicates nothing) from outside the killed process.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chatanime.backends.fake_server import FakeServer

SRC = Path(__file__).resolve().parent.parent / "src"


def script_env() -> dict[str, str]:
    """The environment of a job script run in a subprocess: this checkout's sources."""
    return {**os.environ, "PYTHONPATH": str(SRC)}


def count_rows(db: Path, table: str) -> int:
    """Rows of ``table``, read with plain sqlite3 (not open_store: it would migrate, racing
    the running process); 0 while that process has not created the tables yet."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        conn.close()


def wait_idle(server: FakeServer) -> dict[str, Any]:
    """The server's statistics once no request is in flight (the killed calls have ended)."""
    for _ in range(500):
        stats = server.stats()
        if stats["in_flight"] == 0:
            return stats
        time.sleep(0.02)
    raise AssertionError("the fake server never went idle")


def kill_after_rows(
    args: Sequence[str], env: Mapping[str, str], db: Path, table: str, rows: int = 5
) -> None:
    """Run ``args`` and SIGKILL it (no cleanup, like a crash) once ``table`` has ``rows``."""
    proc = subprocess.Popen(list(args), env=dict(env))
    try:
        while count_rows(db, table) < rows:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
