"""Time ``chatanime --help`` in a fresh process (goal: well under one second).

Usage: .venv/bin/python bench/bench_cli_startup.py [ARGS ...]
Runs ``python -m chatanime ARGS`` (default ``--help``) 5 times as a user would (a new
interpreter each time, output discarded) and prints the best and median wall time and the
ratio of the best to the one-second budget. Every command pays this start-up before it
does anything, so it is also the floor of e.g. ``chatanime data info``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

RUNS = 5
BUDGET_S = 1.0


def once(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "chatanime", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100"},
    )
    return time.perf_counter() - start


def main() -> None:
    args = sys.argv[1:] or ["--help"]
    times = sorted(once(args) for _ in range(RUNS))
    best, median = times[0], times[RUNS // 2]
    print(f"chatanime {' '.join(args)}: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms")
    print(f"ratio to the {BUDGET_S:.0f} s budget: {best / BUDGET_S:.2f}")
    try:
        load = os.getloadavg()[0]
    except OSError:
        return
    print(f"load average: {load:.1f}")


if __name__ == "__main__":
    main()
