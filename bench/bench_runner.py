"""Throughput of the generation runner against the fake server (not a test: prints ratios).

Runs the full ChatAnime generation — 1,200 dialogues = 2,400 actor calls + 1,200
user-simulator calls — against the fake OpenAI-compatible server (in its own
process, so the two event loops do not share one GIL) with 200 ms latency, at
concurrency 64, and prints achieved / ideal throughput, where the ideal run time
is calls x latency / concurrency. Then it runs again with 10 % injected 429/500
faults and prints that every unit finished and how many retries that took.

    .venv/bin/python bench/bench_runner.py [--latency-ms 200] [--concurrency 64] [--baseline]

``--baseline`` also times the same number of calls made straight through the HTTP
adapter with a semaphore (no runner, no store): on a small or busy machine the
client HTTP stack, not the runner, is what limits throughput, and this tells them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.benchmark import load_benchmark
from chatanime.generation import GenerationJob, GenerationReport, generate
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
        server.terminate()
        server.wait()
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
        f"achieved/ideal throughput = {ratio:.3f}; client CPU {1000 * cpu / s.calls:.2f} ms/call"
    )
    return report, ratio


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
    try:
        elapsed = asyncio.run(_bare_calls(url, calls, concurrency))
    finally:
        server.terminate()
        server.wait()
    ratio = calls * latency_ms / 1000 / concurrency / elapsed
    print(f"[bare adapter] {calls} calls in {elapsed:.2f} s: achieved/ideal = {ratio:.3f}")
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
    faulty, _ = run("faults", args.latency_ms, args.concurrency, args.fault_rate)
    s = faulty.summary
    every = s.done == faulty.selected and s.failed == 0
    print(
        f"with {args.fault_rate:.0%} injected 429/500: every unit finished: {every} "
        f"({s.done}/{faulty.selected}); retries: {s.retries}"
    )


if __name__ == "__main__":
    main()
