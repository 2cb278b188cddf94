"""The fake model server's wire: a minimal asyncio HTTP/1.1 server and the API body shapes.

Hand-rolled rather than ASGI because the fake server must be able to *drop* a
connection without answering (a fault real providers produce and clients must
survive), and because every in-flight request should cost a coroutine, not a thread.
It only has to interoperate with httpx-based SDKs, curl and browsers on loopback.
The second half builds OpenAI chat-completions and Anthropic Messages bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chatanime.backends.base import ChatMessage

MAX_BODY = 16 * 1024 * 1024


class DropConnection(Exception):
    """Raised by a handler to close the TCP connection without any response."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()
    ) -> HttpResponse:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), headers)

    def encode(self, keep_alive: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{key}: {value}" for key, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HttpRequest | None:
    """Parse one request; ``None`` when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise DropConnection
        body = await reader.readexactly(length)
    return HttpRequest(method.upper(), target.split("?", 1)[0], headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(chunks)
        chunks += (await reader.readexactly(size + 2))[:-2]
        if len(chunks) > MAX_BODY:
            raise DropConnection


class HttpServer:
    """Serves ``handler`` on ``host:port`` (0 = a free port), in a loop or a background thread."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start_async(self) -> None:
        """Listen on the running event loop."""
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        """Stop listening and cut every open connection, including slow replies in progress."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while (request := await read_request(reader, writer)) is not None:
                response = await self._respond(request, reader)
                if response is None:
                    break
                writer.write(response.encode(request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except (DropConnection, ConnectionError, ValueError, asyncio.LimitOverrunError):
            writer.transport.abort()
        except asyncio.IncompleteReadError:
            pass  # the client went away mid-request
        except asyncio.CancelledError:
            writer.transport.abort()  # server shutdown; ending the task is the point
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def _respond(
        self, request: HttpRequest, reader: asyncio.StreamReader
    ) -> HttpResponse | None:
        """Run the handler, abandoning it (``None``) if the client hangs up first.

        A client that timed out closes its connection; without this, a slow reply it no
        longer waits for would stay "in flight" for its whole sleep. Clients do not
        pipeline requests, so any byte arriving now also ends the connection.
        """
        handler = asyncio.ensure_future(self._handler(request))
        hangup = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({handler, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (handler, hangup):
                if not task.done():
                    task.cancel()
            await asyncio.gather(handler, hangup, return_exceptions=True)
        if handler.cancelled():
            return None
        return handler.result()

    def start(self) -> None:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # re-raised in the caller of start()
                failure.append(exc)
            ready.set()
            if not failure:
                loop.run_forever()
                loop.run_until_complete(self.stop_async())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="chatanime-http", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop(self) -> None:
        """Stop the background thread (idempotent)."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.start()
        try:
            yield
        finally:
            self.stop()


# ---------------------------------------------------------------- API body shapes


def error_response(status: int, kind: str, message: str, code: str | None = None) -> HttpResponse:
    """An error body both SDKs read their message from (``error.message``)."""
    body = {"type": "error", "error": {"type": kind, "message": message, "code": code}}
    return HttpResponse.json(status, body)


FAULT_ERRORS = {
    "500": (500, "server_error", "The fake server failed (injected 500)."),
    "503": (503, "overloaded_error", "The fake server is overloaded (injected 503)."),
    "400": (400, "invalid_request_error", "Bad request (injected 400)."),
    "401": (401, "authentication_error", "Invalid API key (injected 401)."),
}
MALFORMED_BODY = (
    b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{"message": {"co'
)


def parse_messages(payload: dict[str, Any]) -> tuple[ChatMessage, ...]:
    """Chat messages from an OpenAI or Anthropic request body (text parts only)."""
    out: list[ChatMessage] = []
    system = payload.get("system")
    if system:
        out.append(ChatMessage(role="system", content=message_text(system)))
    for message in payload["messages"]:
        role = {"developer": "system"}.get(message["role"], message["role"])
        if role in ("system", "user", "assistant"):
            out.append(ChatMessage(role=role, content=message_text(message.get("content") or "")))
    return tuple(out)


def message_text(content: Any) -> str:
    """A message's text: a plain string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))


def completion_body(
    wire: str, model: str, text: str | None, fr: str, usage: tuple[int, int]
) -> Any:
    """A successful reply in the ``openai`` or ``anthropic`` shape; ``text=None`` gives an
    empty choice/content list (the ``empty`` fault)."""
    prompt, completion = usage
    if wire == "anthropic":
        return {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [] if text is None else [{"type": "text", "text": text}],
            "stop_reason": "end_turn" if fr == "stop" else fr,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        }
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": fr}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [] if text is None else [choice],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
