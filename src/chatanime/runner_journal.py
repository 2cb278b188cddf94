"""The runner's rows: what a run has finished, written durably as it happens.

A finished call must be committed before its answer is used, so a ``kill -9`` at
any moment loses at most the calls in flight. Committing one transaction per row
from 64 concurrent tasks would make the store the bottleneck, so writes go to one
writer thread that *group-commits*: every write waiting when it wakes up shares one
transaction, and each caller resumes only after that transaction is committed.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import IntegrityError

from chatanime.backends.base import ChatResponse
from chatanime.store import Store
from chatanime.store.schema import call_failures, calls, runs, units

T = TypeVar("T")
Persist = Callable[[Connection, str, Mapping[str, Any]], None]
"""Writes a finished unit's own rows (e.g. a dialogue) in the transaction marking it done."""


@dataclass(frozen=True)
class _CallRow:
    """A ``calls`` row. The rows of one batch go in as one executemany: per-row
    statement execution would hold the GIL in the writer thread long enough to
    delay the event loop's responses at 64 calls in flight."""

    values: Mapping[str, Any]


_Write = tuple[
    Callable[[Connection], Any] | _CallRow, "asyncio.Future[Any]", asyncio.AbstractEventLoop
]


def now() -> str:
    return datetime.now(UTC).isoformat()


@lru_cache(maxsize=64)
def _conflict_insert(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    update: tuple[str, ...] | None,
    returning: bool = False,
) -> Any:
    """A reusable ``INSERT ... ON CONFLICT`` for SQLite / PostgreSQL, else ``None``.

    Built once and executed with parameters: constructing and caching a new statement
    per row costs more than the insert itself when thousands of calls are recorded.
    ``returning`` makes an ignored insert observable as "no row back": ``rowcount`` is
    not (psycopg reports -1 for an insert whose primary key comes back implicitly).
    """
    stmt: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table)
    else:
        return None
    if update is None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        return stmt.returning(*(table.c[k] for k in keys)) if returning else stmt
    set_ = {column: stmt.excluded[column] for column in update}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)


def insert_or_ignore(
    conn: Connection, table: Table, row: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """Insert unless a row with the same ``keys`` (a unique constraint) exists.

    Returns whether a row was inserted. This is what makes "store it again after a
    crash" harmless instead of a duplicate.
    """
    stmt = _conflict_insert(conn.dialect.name, table, tuple(keys), None, True)
    if stmt is not None:
        return conn.execute(stmt, dict(row)).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(table.insert(), dict(row))
    except IntegrityError:
        return False
    return True


def upsert(
    conn: Connection,
    table: Table,
    row: Mapping[str, Any],
    keys: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert, or update every column except ``keys`` and ``keep`` of the existing row."""
    changes = tuple(k for k in row if k not in keys and k not in keep)
    stmt = _conflict_insert(conn.dialect.name, table, tuple(keys), changes)
    if stmt is not None:
        conn.execute(stmt, dict(row))
        return
    if not insert_or_ignore(conn, table, row, keys):
        where = [table.c[k] == row[k] for k in keys]
        conn.execute(table.update().where(*where).values({k: row[k] for k in changes}))


def _insert_calls(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``calls`` rows in one statement, ignoring keys already stored."""
    stmt = _conflict_insert(conn.dialect.name, calls, ("key",), None)
    if stmt is not None:
        conn.execute(stmt, rows)
        return
    for row in rows:
        insert_or_ignore(conn, calls, row, ["key"])


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class RunJournal:
    """One run's finished calls (replayed from memory) and its group-committed writes."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.calls: dict[str, ChatResponse] = {}
        self.run_cost = 0.0
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._writer, name="chatanime-store", daemon=True)
        self._thread.start()

    def load(self) -> dict[str, dict[str, Any]]:
        """Load finished calls, and return the results of finished units."""
        with self.store.engine.connect() as conn:
            for row in conn.execute(select(calls).where(calls.c.run_id == self.run_id)):
                self.calls[row.key] = ChatResponse(
                    text=row.response_text,
                    model=row.model,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    latency_s=row.latency_s,
                    attempts=row.retries + 1,
                )
                self.run_cost += row.cost_usd or 0.0
            done = conn.execute(
                select(units.c.unit_id, units.c.result_json).where(
                    units.c.run_id == self.run_id, units.c.status == "done"
                )
            )
            return {r.unit_id: json.loads(r.result_json or "{}") for r in done}

    def submit(self, fn: Callable[[Connection], T] | _CallRow) -> asyncio.Future[T]:
        """Queue ``fn`` for a committed transaction; the future settles when it is.

        Writes commit in the order they were submitted, so a caller that does not
        wait still knows its earlier writes land before its later ones.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return future

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a committed transaction (shared with concurrent writes)."""
        return await self.submit(fn)

    def close(self) -> None:
        """Finish pending writes and stop the writer thread."""
        self._queue.put(None)
        self._thread.join()

    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while not stop:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                else:
                    batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Write]) -> None:
        """One transaction for the batch; if it fails, each write alone, so one bad
        write fails only its own caller."""
        try:
            with self.store.engine.begin() as conn:
                rows = [dict(w.values) for w, _, _ in batch if isinstance(w, _CallRow)]
                if rows:
                    _insert_calls(conn, rows)
                results = [None if isinstance(w, _CallRow) else w(conn) for w, _, _ in batch]
        except Exception as exc:
            if len(batch) == 1:
                _, future, loop = batch[0]
                loop.call_soon_threadsafe(_settle, future, None, exc)
                return
            for item in batch:
                self._commit([item])
            return
        for (_, future, loop), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(_settle, future, result, None)

    # ------------------------------------------------------------ the rows

    async def record_run(self, run_id: str, kind: str, name: str, config_json: str) -> None:
        stamp = now()
        row = {
            "id": run_id,
            "kind": kind,
            "name": name,
            "created_at": stamp,
            "updated_at": stamp,
            "config_json": config_json,
        }
        await self.write(lambda conn: upsert(conn, runs, row, ["id"], keep=("created_at",)))

    def record_call(self, row: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue a finished call's row (see :meth:`submit`); a stored key is kept."""
        return self.submit(_CallRow({"run_id": self.run_id, "created_at": now(), **row}))

    def record_failure(self, row: Mapping[str, Any]) -> asyncio.Future[Any]:
        """Queue a call's final failure (see :meth:`submit`)."""
        values = {"run_id": self.run_id, "created_at": now(), **row}
        return self.submit(lambda conn: conn.execute(call_failures.insert().values(values)))

    async def finish_unit(
        self,
        unit_id: str,
        result: Mapping[str, Any] | None,
        error: str | None,
        persist: Persist | None = None,
    ) -> None:
        """Mark a unit done (with ``persist``'s rows, atomically) or failed."""

        def mark(conn: Connection) -> None:
            if result is not None and persist is not None:
                persist(conn, unit_id, result)
            row = {
                "run_id": self.run_id,
                "unit_id": unit_id,
                "status": "done" if result is not None else "failed",
                "result_json": None if result is None else json.dumps(result, ensure_ascii=False),
                "error": error,
                "updated_at": now(),
            }
            upsert(conn, units, row, ["run_id", "unit_id"])

        await self.write(mark)
