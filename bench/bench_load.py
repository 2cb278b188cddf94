"""Time loading + validating the 11 release files (goal: well under one second).

Usage: .venv/bin/python bench/bench_load.py [DATA_DIR]
Prints the best of 5 runs and the ratio to the one-second budget.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chatanime.benchmark import load_benchmark
from chatanime.corpus import load_corpus


def main() -> None:
    default = Path(__file__).resolve().parents[1].parent / "shared/chatanime/data"
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    bench = load_benchmark("chatanime")  # cards and scenarios parsed once, as in a CLI call
    times = []
    for _ in range(5):
        start = time.perf_counter()
        corpus = load_corpus(data, benchmark=bench)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"loaded {len(corpus.systems)} systems, {len(corpus)} dialogues")
    print(f"load+validate: best {best * 1000:.0f} ms, median {sorted(times)[2] * 1000:.0f} ms")
    print(f"ratio to the 1 s budget: {best:.2f}")


if __name__ == "__main__":
    main()
