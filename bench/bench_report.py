"""Time the main job: `chatanime report` on the release (goal: under 30 s on 2 cores).

Usage: .venv/bin/python bench/bench_report.py [DATA_DIR] [--judged] [--n-boot N]

1. Fresh machine (no store): load + validate, style features, diversity, examples, HTML.
   Prints each section's seconds, the total and its ratio to the 30 s budget.
2. With --judged: the same plus synthetic pointwise scores of two judges for every system x
   1,200 items (so three sources with the ensemble; 475k score rows) and pairwise-vs-fans
   verdicts in a temporary SQLite store. Insertion is timed separately (it stands in for the
   judge, not for the report).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.report.support (the synthetic scores)

from chatanime.corpus import load_corpus  # noqa: E402
from chatanime.report.build import build_report  # noqa: E402
from chatanime.report.html import render_html  # noqa: E402
from chatanime.store import open_store  # noqa: E402

BUDGET_S = 30.0


def run(data: Path, store_url: str | None, n_boot: int, label: str) -> float:
    start = time.perf_counter()
    corpus = load_corpus(data)
    loaded = time.perf_counter()
    store = open_store(store_url) if store_url else None
    report = build_report(corpus, store, n_boot=n_boot)
    built = time.perf_counter()
    html = render_html(report)
    done = time.perf_counter()
    print(f"\n== {label}")
    print(f"  load + validate            {loaded - start:6.2f} s")
    for name, seconds in report.timings.items():
        print(f"  {name:<26} {seconds:6.2f} s")
    print(
        f"  render HTML                {done - built:6.2f} s  ({len(html.encode()) / 1e6:.1f} MB)"
    )
    total = done - start
    print(
        f"  total                      {total:6.2f} s  ratio to the {BUDGET_S:.0f} s budget: "
        f"{total / BUDGET_S:.2f}"
    )
    sources = ", ".join(b.source for b in report.boards) or "none"
    print(f"  sources: {sources}; notes: {len(report.notes)}")
    return total


def seed_store(data: Path, url: str) -> None:
    from tests.report.support import insert_judge_scores, insert_pairwise

    corpus = load_corpus(data)
    store = open_store(url)
    start = time.perf_counter()
    offsets = {s: 0.05 * i for i, s in enumerate(corpus.systems)}
    n = insert_judge_scores(store, corpus, "bench/judge-a", offsets=offsets, style_effect=0.3)
    n += insert_judge_scores(store, corpus, "bench/judge-b", offsets=offsets, seed=1)
    n += insert_pairwise(store, corpus, "bench/judge-a")
    print(f"\ninserted {n} synthetic judgments in {time.perf_counter() - start:.1f} s")
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=str(REPO.parent / "shared/chatanime/data"))
    parser.add_argument("--judged", action="store_true")
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    data = Path(args.data)
    run(data, None, args.n_boot, "fresh machine: release only, no store")
    if args.judged:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            seed_store(data, url)
            run(data, url, args.n_boot, "with 2 synthetic judges + ensemble + pairwise")


if __name__ == "__main__":
    main()
