"""Throughput of the generation runner against the fake server (not a test: prints ratios).

Runs the full ChatAnime generation — 1,200 dialogues = 2,400 actor calls + 1,200
user-simulator calls — against the fake OpenAI-compatible server (in its own
process, so the two event loops do not share one GIL) with 200 ms latency, at
concurrency 64, and prints achieved / ideal throughput, where the ideal run time
is calls x latency / concurrency. Then it runs again with 10 % injected 429/500
faults and prints that every unit finished and how many retries that took.

    .venv/bin/python bench/bench_runner.py [--latency-ms 200] [--concurrency 64] [--baseline]

``--baseline`` also times (a) the same number of calls made straight through the
HTTP adapter with a semaphore (no runner, no store) and (b) the full generation
against in-process fake models (the runner with no HTTP at all). On a small or busy
machine the client HTTP stack, not the runner, limits throughput; these tell them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from chatanime.backends.base import ChatMessage, ChatResponse, GenerationParams
from chatanime.backends.fake_behaviours import FakeRequest, find_behaviour
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.benchmark import load_benchmark
from chatanime.generation import GenerationJob, GenerationReport, generate
from chatanime.pricing import estimate_tokens
from chatanime.runner import RunOptions
from chatanime.store import open_store

PARAMS = GenerationParams()
SERVER = """
import sys
from chatanime.backends.fake_server import FakeServerConfig, serve_forever
port, latency, rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
serve_forever(FakeServerConfig(port=port, latency_ms=latency, fault_rate=rate,
                               faults=("429", "500"), retry_after_s=0.5, seed=7))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(latency_ms: float, fault_rate: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-c", SERVER, str(port), str(latency_ms), str(fault_rate)]
    proc = subprocess.Popen(cmd)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/v1/models", timeout=1.0).raise_for_status()
            return proc, f"{base}/v1"
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake server did not start")


def stop_server(server: subprocess.Popen[bytes]) -> float:
    """Stop the server; returns the CPU seconds it used (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server.terminate()
    server.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stats(base_url: str) -> dict[str, Any]:
    return dict(httpx.get(base_url.removesuffix("/v1") + "/_fake/stats", timeout=5).json())


def run(
    name: str, latency_ms: float, concurrency: int, fault_rate: float
) -> tuple[GenerationReport, float]:
    """One full generation; returns the report and achieved/ideal throughput."""
    server, url = start_server(latency_ms, fault_rate)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(str(Path(tmp) / "bench.db"))
            job = GenerationJob(
                name=name,
                actor="fake/actor",
                user_sim="fake/user-sim",
                benchmark=load_benchmark("chatanime"),
            )
            options = RunOptions(
                concurrency=concurrency,
                progress=sys.stderr.isatty(),
                retry=RetryPolicy(max_attempts=8, base_delay=0.25, max_delay=4.0),
                max_consecutive_failures=None,
            )
            cpu = time.process_time()
            report = generate(
                job, store, models=lambda n: get_model(n, base_url=url), options=options
            )
            cpu = time.process_time() - cpu
            report_server = stats(url)
            store.dispose()
    finally:
        server_cpu = stop_server(server)
    s = report.summary
    ideal = s.calls * latency_ms / 1000 / concurrency
    ratio = ideal / s.elapsed_s
    print(
        f"[{name}] {s.done}/{report.selected} dialogues done, {s.failed} failed; "
        f"{s.calls} calls ({s.retries} retries, {s.failed_calls} failed calls); "
        f"server saw {report_server['requests']} requests, "
        f"max in flight {report_server['max_in_flight']}"
    )
    print(
        f"[{name}] elapsed {s.elapsed_s:.2f} s, ideal {ideal:.2f} s "
        f"(= {s.calls} x {latency_ms:g} ms / {concurrency}); "
        f"achieved/ideal throughput = {ratio:.3f}; CPU per call: client "
        f"{1000 * cpu / s.calls:.2f} ms, fake server {1000 * server_cpu / s.calls:.2f} ms"
    )
    return report, ratio


class InProcessFake:
    """The fake server's behaviours without HTTP: ``latency`` of sleep, then the answer.
    Measures the runner alone (protocol, store, bookkeeping), with no client stack."""

    def __init__(self, name: str, latency_s: float) -> None:
        self._name = name
        self._latency_s = latency_s
        self._behaviour = find_behaviour(name)

    @property
    def name(self) -> str:
        return self._name

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        await asyncio.sleep(self._latency_s)
        assert self._behaviour is not None
        text = self._behaviour(FakeRequest(self._name, tuple(messages)))
        tokens = sum(estimate_tokens(m.content) for m in messages)
        return ChatResponse(
            text=text,
            model=self._name,
            input_tokens=tokens,
            output_tokens=estimate_tokens(text),
            latency_s=self._latency_s,
        )


def run_in_process(latency_ms: float, concurrency: int) -> float:
    """The full generation against :class:`InProcessFake` models; returns the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        job = GenerationJob(
            name="in-process",
            actor="fake/actor",
            user_sim="fake/user-sim",
            benchmark=load_benchmark("chatanime"),
        )
        cpu = time.process_time()
        report = generate(
            job,
            store,
            models=lambda n: InProcessFake(n, latency_ms / 1000),
            options=RunOptions(concurrency=concurrency, progress=False),
        )
        cpu = time.process_time() - cpu
        store.dispose()
    s = report.summary
    ratio = s.calls * latency_ms / 1000 / concurrency / s.elapsed_s
    print(
        f"[runner without HTTP] {s.done} dialogues, {s.calls} calls in {s.elapsed_s:.2f} s: "
        f"achieved/ideal = {ratio:.3f}; CPU per call {1000 * cpu / s.calls:.2f} ms"
    )
    return ratio


async def _bare_calls(url: str, calls: int, concurrency: int) -> float:
    model = get_model("fake/echo", base_url=url)
    gate = asyncio.Semaphore(concurrency)
    messages = [ChatMessage(role="system", content="你是路飞" * 60)]

    async def one(i: int) -> None:
        async with gate:
            await model.chat([*messages, ChatMessage(role="user", content=f"{i}")], PARAMS)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed = time.monotonic() - started
    close = getattr(model, "aclose", None)
    if close is not None:
        await close()
    return elapsed


def baseline(latency_ms: float, concurrency: int, calls: int) -> float:
    """The same number of calls straight through the HTTP adapter (no runner, no store):
    what this machine and client stack allow, to tell runner overhead from the rest."""
    server, url = start_server(latency_ms, 0.0)
    cpu = time.process_time()
    try:
        elapsed = asyncio.run(_bare_calls(url, calls, concurrency))
    finally:
        server_cpu = stop_server(server)
    cpu = time.process_time() - cpu
    ratio = calls * latency_ms / 1000 / concurrency / elapsed
    print(
        f"[bare adapter] {calls} calls in {elapsed:.2f} s: achieved/ideal = {ratio:.3f}; "
        f"CPU per call: client {1000 * cpu / calls:.2f} ms, "
        f"fake server {1000 * server_cpu / calls:.2f} ms"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument(
        "--baseline", action="store_true", help="also time bare adapter calls (no runner)"
    )
    args = parser.parse_args()
    clean, ratio = run("clean", args.latency_ms, args.concurrency, 0.0)
    print(f"goal >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'} ({ratio:.3f})")
    if args.baseline:
        bare = baseline(args.latency_ms, args.concurrency, clean.summary.calls)
        print(f"runner / bare adapter = {ratio / bare:.3f}")
        run_in_process(args.latency_ms, args.concurrency)
    faulty, _ = run("faults", args.latency_ms, args.concurrency, args.fault_rate)
    s = faulty.summary
    every = s.done == faulty.selected and s.failed == 0
    print(
        f"with {args.fault_rate:.0%} injected 429/500: every unit finished: {every} "
        f"({s.done}/{faulty.selected}); retries: {s.retries}"
    )


if __name__ == "__main__":
    main()
