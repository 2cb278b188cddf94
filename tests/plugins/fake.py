"""Fake OpenAI-compatible server fixtures: real HTTP on loopback, no patched clients.

- ``fake_server``: a server shared by the session, reset before each test, with
  ``CHATANIME_FAKE_URL`` pointing at it (so ``get_model("fake/actor")`` reaches it).
  It has ``.base_url``, ``.script(model, responses)``, ``.stats()``, ``.reset()``.
- ``fake_server_factory``: ``fake_server_factory(latency_ms=200, fault_rate=0.1, ...)``
  starts a server with its own :class:`FakeServerConfig` (stopped after the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatanime.backends.fake_server import FakeServer, FakeServerConfig


@pytest.fixture(scope="session")
def _shared_fake_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeServerConfig())
    with server.running():
        yield server


@pytest.fixture
def fake_server(_shared_fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """The session's fake server, with scripts and statistics cleared."""
    _shared_fake_server.reset()
    monkeypatch.setenv("CHATANIME_FAKE_URL", _shared_fake_server.base_url)
    return _shared_fake_server


@pytest.fixture
def fake_server_factory() -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers with custom options (``FakeServerConfig`` fields)."""
    started: list[FakeServer] = []

    def start(**options: Any) -> FakeServer:
        server = FakeServer(FakeServerConfig(**options))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
