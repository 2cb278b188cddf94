"""A real OpenAI-compatible HTTP server on loopback, for offline dry runs and tests.

``chatanime fake-server`` (or :class:`FakeServer` in a background thread) answers
``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models`` with the rule-based
behaviours of :mod:`chatanime.backends.fake_behaviours`, and ``POST /v1/messages`` in
Anthropic's format so that adapter is tested for real too. It is a small asyncio
HTTP/1.1 server with keep-alive rather than an ASGI app because the ``drop`` fault must
really close the TCP connection without a response, and because 64+ slow requests in
flight must cost coroutines, not threads.

Faults (random at ``fault_rate`` from ``faults``, seeded, or scripted):
``429`` (with ``Retry-After``), ``500``, ``503``, ``400``, ``401``, ``timeout`` (answer
only after ``timeout_sleep_s``), ``malformed`` (200 with a truncated JSON body), ``empty``
(200 with no choices), ``drop`` (close the connection without answering).

Control endpoints (JSON):

- ``POST /_fake/script`` ``{"model": "fake/actor" | "*", "responses": [{"fault": "429",
  "retry_after": 1}, {"text": "..."}, {"fault": "timeout", "sleep_s": 2}, ...]}`` queues
  replies consumed in order (the model's queue first, then ``"*"``) before behaviours
  and random faults apply.
- ``GET /_fake/stats``: ``requests``, ``by_model`` (model -> outcome -> count),
  ``by_outcome``, ``repeated_ok`` (successful answers to a request already answered
  successfully: a repeated paid call), ``in_flight``, ``max_in_flight``.
- ``POST /_fake/reset``: forget scripts and stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import pkgutil
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import ValidationError

import chatanime.backends as backends_package
from chatanime.backends.fake_behaviours import (
    FAKE_PREFIX,
    FakeRequest,
    behaviour_names,
    find_behaviour,
)
from chatanime.backends.fake_state import (
    FakeServerConfig,
    FakeState,
    Reply,
    Script,
    canonical_model,
)
from chatanime.backends.fake_wire import (
    FAULT_ERRORS,
    MALFORMED_BODY,
    DropConnection,
    HttpRequest,
    HttpResponse,
    HttpServer,
    completion_body,
    error_response,
    parse_messages,
)
from chatanime.pricing import MESSAGE_OVERHEAD_TOKENS, estimate_tokens

PLUGIN_PREFIX = "fake_"
"""Modules ``chatanime.backends.fake_*`` (other than the server's own) are behaviour plugins
that register on import (``fake_judges``, ``fake_scenarios``, ...); the server imports them."""
_NOT_PLUGINS = frozenset({"fake_server", "fake_state", "fake_behaviours", "fake_wire"})


# ---------------------------------------------------------------- the fake API


class FakeApp:
    """Routes requests; everything here runs on the server's event loop."""

    def __init__(self, config: FakeServerConfig, state: FakeState) -> None:
        self.config = config
        self.state = state
        self._jitter = random.Random(config.seed + 1)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        route = (request.method, request.path.rstrip("/"))
        if route in (("POST", "/v1/chat/completions"), ("POST", "/chat/completions")):
            return await self.completion(request, "openai")
        if route == ("POST", "/v1/messages"):
            return await self.completion(request, "anthropic")
        if route in (("GET", "/v1/models"), ("GET", "/models")):
            models = [
                {"id": FAKE_PREFIX + name, "object": "model", "created": 0, "owned_by": "chatanime"}
                for name in behaviour_names()
            ]
            return HttpResponse.json(200, {"object": "list", "data": models})
        if route == ("GET", "/_fake/stats"):
            return HttpResponse.json(200, self.state.stats())
        if route == ("POST", "/_fake/reset"):
            self.state.reset()
            return HttpResponse.json(200, {"reset": True})
        if route == ("POST", "/_fake/script"):
            try:
                script = Script.model_validate_json(request.body)
            except ValidationError as exc:
                return error_response(400, "invalid_request_error", str(exc).splitlines()[0])
            return HttpResponse.json(
                200, {"queued": self.state.script(script.model, script.responses)}
            )
        return error_response(404, "not_found_error", f"No route {request.method} {request.path}.")

    async def completion(self, request: HttpRequest, wire: str) -> HttpResponse:
        deadline = self._deadline()
        try:
            payload = json.loads(request.body)
            model = canonical_model(str(payload["model"]))
            messages = parse_messages(payload)
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
            return error_response(400, "invalid_request_error", "The body is not a chat request.")
        key = self.config.api_key
        auth = {request.headers.get("authorization"), request.headers.get("x-api-key")}
        if key and not {f"Bearer {key}", key} & auth:
            self.state.record(model, "401")
            return error_response(
                401, "authentication_error", "Invalid API key.", "invalid_api_key"
            )
        self.state.enter()
        try:
            request_ = FakeRequest(model, messages, payload)
            return await self._answer(wire, payload, request_, deadline)
        finally:
            self.state.leave()

    async def _answer(
        self, wire: str, payload: dict[str, Any], request: FakeRequest, deadline: float
    ) -> HttpResponse:
        """Scripted reply, else 404 for an unknown model, else a random fault or the behaviour.

        The reply is computed first and sent at ``deadline``, so the configured latency
        is the time from request to reply, the server's own work included: a client
        measured against 200 ms is not charged for the fake server's CPU.
        """
        model, shown = request.model, str(payload["model"])
        reply = self.state.pop_script(model)
        behaviour = find_behaviour(model)
        if reply is None and behaviour is None:
            self.state.record(model, "404")
            message = f"The model `{shown}` does not exist."
            return error_response(404, "not_found_error", message, "model_not_found")
        if reply is None:
            reply = self.state.random_fault()
        if reply is not None and reply.fault is not None:
            await _sleep_until(deadline)
            early = await self._fault(wire, shown, model, reply)
            if early is not None:
                return early
        text = reply.text if reply is not None else None
        if text is None:
            try:
                text = behaviour(request) if behaviour is not None else ""
            except Exception as exc:  # a broken plugin must show as a 500, not kill the server
                self.state.record(model, "error")
                return error_response(500, "server_error", f"behaviour failed: {exc!r}")
        if reply is None or reply.fault is None:
            key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).digest()
            self.state.record(model, "ok", key)
        usage = (
            sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in request.messages),
            estimate_tokens(text),
        )
        finish = reply.finish_reason if reply is not None else "stop"
        response = HttpResponse.json(200, completion_body(wire, shown, text, finish, usage))
        await _sleep_until(deadline)
        return response

    def _deadline(self) -> float:
        """When (event-loop time) a request arriving now is answered."""
        cfg = self.config
        delay = cfg.latency_ms + self._jitter.uniform(-cfg.jitter_ms, cfg.jitter_ms)
        return asyncio.get_running_loop().time() + max(0.0, delay) / 1000

    async def _fault(self, wire: str, shown: str, model: str, reply: Reply) -> HttpResponse | None:
        """The fault's response; ``None`` after a ``timeout`` sleep (then answer late)."""
        fault = str(reply.fault)
        self.state.record(model, fault)
        if fault == "drop":
            raise DropConnection
        if fault == "timeout":
            await asyncio.sleep(
                reply.sleep_s if reply.sleep_s is not None else self.config.timeout_sleep_s
            )
            return None
        if fault == "429":
            wait = reply.retry_after if reply.retry_after is not None else self.config.retry_after_s
            response = error_response(429, "rate_limit_error", "Rate limit reached (injected 429).")
            return HttpResponse(429, response.body, (("Retry-After", f"{wait:g}"),))
        if fault == "malformed":
            return HttpResponse(200, MALFORMED_BODY)
        if fault == "empty":
            return HttpResponse.json(200, completion_body(wire, shown, None, "stop", (0, 0)))
        return error_response(*FAULT_ERRORS[fault])


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


# ---------------------------------------------------------------- the server


def plugin_modules() -> list[str]:
    """The behaviour plugins shipped in :mod:`chatanime.backends`."""
    found = pkgutil.iter_modules(backends_package.__path__)
    return sorted(
        f"{backends_package.__name__}.{info.name}"
        for info in found
        if info.name.startswith(PLUGIN_PREFIX) and info.name not in _NOT_PLUGINS
    )


def load_plugins(extra: Sequence[str] = ()) -> None:
    """Import the shipped behaviour plugins and any ``extra`` modules (they self-register)."""
    for module in [*plugin_modules(), *extra]:
        importlib.import_module(module)


class FakeServer:
    """The fake server: ``with FakeServer(cfg).running() as base_url`` serves from a thread;
    ``await start_async()`` serves on the running loop (the CLI)."""

    def __init__(self, config: FakeServerConfig | None = None) -> None:
        self.config = config or FakeServerConfig()
        self.state = FakeState(self.config)
        self._app = FakeApp(self.config, self.state)
        self._http = HttpServer(self._app.handle, self.config.host, self.config.port)

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: what OpenAI-compatible clients take as base URL."""
        return f"http://{self.config.host}:{self._http.port}/v1"

    async def start_async(self) -> str:
        load_plugins(self.config.plugins)
        await self._http.start_async()
        return self.base_url

    async def stop_async(self) -> None:
        await self._http.stop_async()

    def start(self) -> str:
        """Serve from a background thread; returns the base URL once listening."""
        load_plugins(self.config.plugins)
        self._http.start()
        return self.base_url

    def stop(self) -> None:
        self._http.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        url = self.start()
        try:
            yield url
        finally:
            self.stop()

    def script(self, model: str, responses: Sequence[dict[str, Any] | Reply]) -> int:
        """Queue scripted replies for ``model`` or ``"*"`` (same as ``POST /_fake/script``)."""
        replies = [r if isinstance(r, Reply) else Reply.model_validate(r) for r in responses]
        return self.state.script(model, replies)

    def stats(self) -> dict[str, Any]:
        """Same as ``GET /_fake/stats``."""
        return self.state.stats()

    def reset(self) -> None:
        """Same as ``POST /_fake/reset``."""
        self.state.reset()


def serve_forever(config: FakeServerConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Run in the foreground until interrupted (the ``chatanime fake-server`` command)."""

    async def main() -> None:
        server = FakeServer(config)
        url = await server.start_async()
        if on_ready is not None:
            on_ready(url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


__all__ = [
    "FakeApp",
    "FakeServer",
    "FakeServerConfig",
    "load_plugins",
    "plugin_modules",
    "serve_forever",
]
