"""The background worker that makes round-2 questions, so no page request waits for a model.

It owns one event loop in a daemon thread (the models' connection pools live there) and
runs :func:`chatanime.annotate.collect_sim.produce_round2` for each dialogue it is handed,
under the dialogue's lease, renewed by a heartbeat while the job runs. ``submit`` is
thread-safe and cheap to call on every page view and status poll: a dialogue already in
hand is skipped, and one that cannot be claimed (answered, leased elsewhere, failed) ends
at once. Stopping cancels the jobs; their leases run out and a later look re-claims them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import Engine

from chatanime.annotate.collect_sim import (
    LEASE_S,
    ModelFactory,
    Round2Job,
    claim,
    produce_round2,
    renew,
)
from chatanime.backends.base import ChatModel

MAX_CONCURRENT = 32


class SimWorker:
    """Runs round-2 jobs on its own event loop thread, so a page request never waits for a
    model. ``submit`` is thread-safe and cheap: a dialogue already in hand is skipped."""

    def __init__(
        self, engine: Engine, model_for: ModelFactory, *, lease_s: float = LEASE_S
    ) -> None:
        self._engine = engine
        self._factory = model_for
        self.lease_s = lease_s
        self._models: dict[str, ChatModel] = {}
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._gate: asyncio.Semaphore | None = None

    def _model(self, name: str) -> ChatModel:
        if name not in self._models:
            self._models[name] = self._factory(name)
        return self._models[name]

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._gate = asyncio.Semaphore(MAX_CONCURRENT)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="collect-sim", daemon=True)
                self._thread.start()
                ready.wait(10)
                self._loop = loop
            return self._loop

    def submit(self, dialogue_id: str) -> bool:
        """Start the dialogue's job unless this process already runs it."""
        with self._lock:
            if dialogue_id in self._active:
                return False
            self._active.add(dialogue_id)
        loop = self._ensure_started()
        self._spawn(loop, self._run(dialogue_id))
        return True

    @staticmethod
    def _spawn(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, loop)

    async def _run(self, dialogue_id: str) -> None:
        try:
            assert self._gate is not None
            async with self._gate:
                job = await asyncio.to_thread(claim, self._engine, dialogue_id, self.lease_s)
                if job is None:
                    return
                beat = asyncio.create_task(self._heartbeat(job))
                try:
                    await produce_round2(self._engine, job, self._model)
                finally:
                    beat.cancel()
        finally:
            with self._lock:
                self._active.discard(dialogue_id)

    async def _heartbeat(self, job: Round2Job) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            await asyncio.to_thread(renew, self._engine, job, self.lease_s)

    def idle(self) -> bool:
        with self._lock:
            return not self._active

    def stop(self) -> None:
        """Cancel running jobs (their leases expire; a later look claims them again)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = None
        if loop is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for model in self._models.values():
                close = getattr(model, "aclose", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
