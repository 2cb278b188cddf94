"""Throughput of the fake server at a given latency and concurrency (goal: >= 0.9 of ideal).

Usage: .venv/bin/python bench/bench_fake_server.py [REQUESTS] [CONCURRENCY] [LATENCY_MS]

Two clients, each with CONCURRENCY workers: a minimal keep-alive HTTP client (the
server's own capacity) and the project's OpenAI adapter (what the runner sees: the SDK
and httpx cost about 1-2 ms of CPU per call, shared with the server through the GIL). The
server runs in its own thread, as in the test fixtures. With 64 workers and 200 ms
latency the ideal is 320 requests/s; each ratio printed is achieved / ideal.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.backends.fake_server import FakeServer, FakeServerConfig
from chatanime.backends.registry import get_model

SYSTEM = "你是《海贼王》的蒙奇·D·路飞，是用户的好朋友。"


def question(i: int) -> str:
    return f"第{i}个烦恼：最近压力好大，怎么办？"


async def timed(call: Callable[[int], Awaitable[object]], requests: int, workers: int) -> float:
    """Seconds for ``requests`` calls made by ``workers`` concurrent workers."""
    pending = iter(range(requests))

    async def worker() -> None:
        for i in pending:
            await call(i)

    await call(-1)  # warm up connections and imports
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


async def with_raw_http(base_url: str, requests: int, workers: int) -> float:
    """One keep-alive connection per worker, minimal client work: the server's capacity."""
    url = httpx.URL(base_url)
    pending = iter(range(requests))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(url.host, url.port)
        for i in pending:
            body = json.dumps(
                {
                    "model": "fake/actor",
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": question(i)},
                    ],
                }
            ).encode()
            head = f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: x\r\n"
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            json.loads(await reader.readexactly(length))
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


async def with_adapter(base_url: str, requests: int, workers: int) -> float:
    model = get_model("fake/actor", base_url=base_url)
    params = GenerationParams(timeout_s=30)

    async def call(i: int) -> object:
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=question(i)),
        ]
        return await model.chat(messages, params)

    return await timed(call, requests, workers)


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    requests, workers, latency_ms = (args + [1280, 64, 200][len(args) :])[:3]
    ideal = workers / (latency_ms / 1000)
    print(f"{requests} requests, {workers} workers, latency {latency_ms} ms: ideal {ideal:.0f}/s")
    server = FakeServer(FakeServerConfig(latency_ms=latency_ms))
    with server.running() as url:
        for label, client in (("raw http", with_raw_http), ("adapter", with_adapter)):
            server.reset()
            elapsed = asyncio.run(client(url, requests, workers))
            stats = server.stats()
            rate = requests / elapsed
            print(
                f"{label:8s} {rate:6.0f} req/s in {elapsed:5.2f} s, max in flight "
                f"{stats['max_in_flight']}, ratio to ideal: {rate / ideal:.2f}"
            )


if __name__ == "__main__":
    main()
