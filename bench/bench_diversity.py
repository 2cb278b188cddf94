"""Time the automatic diversity table on the release, and our self-BLEU against the naive one.

Usage: .venv/bin/python bench/bench_diversity.py [DATA_DIR] [--naive-groups N] [--repeat R]

1. Product path (goal: under 10 s on 2 cores): load + validate the corpus, then
   ``diversity_table`` over all 26,400 answers, both groupings, characters and jieba words.
   Prints wall time per stage, and CPU time of this process and of its worker processes
   (CPU time is the steadier number on a shared machine). Best of ``--repeat`` runs.
2. Self-BLEU speed-up: the naive pairwise implementation (NLTK-style ``sentence_bleu`` of each
   answer against all other answers of its group, re-counting the references every time) is far
   too slow for all 220 (system, character) groups, so it runs on the first ``--naive-groups``
   groups; the fast version (from the texts: tokenising included, the naive one gets its
   tokens for free) is timed on the same groups (values checked equal) and on all groups.
   The naive time for all groups is *extrapolated* from the
   subset in proportion to the pairwise work (sum over groups of G * (G - 1) * mean length).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from chatanime.corpus import load_corpus
from chatanime.metrics.diversity import diversity_table
from chatanime.metrics.selfbleu import MAX_N, group_means, self_bleu_naive, self_bleu_scores
from chatanime.metrics.tokens import encode_chars, grouped_ngrams

T = TypeVar("T")


def cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def product_path(data: Path, repeat: int) -> None:
    print("== product path: load corpus + diversity_table (all answers, both groupings) ==")
    best: tuple[float, ...] | None = None
    for run in range(repeat):
        own0, kids0 = cpu_seconds()
        start = time.perf_counter()
        corpus = load_corpus(data)
        answers = corpus.answers()
        load_s = time.perf_counter() - start
        table = diversity_table(answers, corpus.benchmark.language)
        table_s = time.perf_counter() - start - load_s
        own1, kids1 = cpu_seconds()
        total = load_s + table_s
        print(
            f"run {run + 1}: {len(answers)} answers, {len(table.systems)} systems, "
            f"{len(table.rows)} rows; wall {total:.2f} s (load {load_s:.2f} + table "
            f"{table_s:.2f}); CPU {own1 - own0:.2f} s here + {kids1 - kids0:.2f} s in workers"
        )
        if best is None or total < best[0]:
            best = (total, load_s, table_s, own1 - own0, kids1 - kids0)
            stages = {k: (v, table.cpu_timings.get(k, 0.0)) for k, v in table.timings.items()}
    assert best is not None
    print("stages of the best run (wall s / CPU s of the main process):")
    for stage, (wall, cpu) in stages.items():
        print(f"  {stage:<14} {wall:6.2f} / {cpu:5.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB here, {kids:.0f} MB in the largest worker")
    print(f"best total {best[0]:.2f} s; ratio to the 10 s budget: {best[0] / 10:.2f}")


CLI_SNIPPET = """
import sys, typer
from chatanime.cli.diversity import register
app = typer.Typer()
app.callback()(lambda: None)
register(app)
app(sys.argv[1:])
"""


def command_line(data: Path) -> None:
    """``chatanime diversity`` end to end in a fresh process (imports, load, table, CSV)."""
    from chatanime.cli import AREAS

    with tempfile.TemporaryDirectory() as tmp:
        args = ["diversity", "--data", str(data), "--format", "csv", "--out", f"{tmp}/d.csv"]
        if "diversity" in AREAS:
            command = [sys.executable, "-m", "chatanime", *args]
        else:  # not registered in the root app yet: the same command on its own
            command = [sys.executable, "-c", CLI_SNIPPET, *args]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - start
    print(f"== chatanime diversity (one grouping, fresh process): {wall:.2f} s wall ==")


def selfbleu_speedup(data: Path, naive_groups: int) -> None:
    print("== self-BLEU (characters, per (system, character) group, both rounds) ==")
    corpus = load_corpus(data)
    answers = sorted(corpus.answers(), key=lambda a: (a.system, a.character, a.scenario, a.round))
    labels: dict[tuple[str, str], int] = {}
    group = np.array([labels.setdefault((a.system, a.character), len(labels)) for a in answers])
    texts = [a.text for a in answers]
    enc = encode_chars(texts)
    tokens = [enc.tokens(i) for i in range(enc.n_answers)]
    members = [np.flatnonzero(group == g) for g in range(len(labels))]

    def fast(n_groups: int) -> np.ndarray:
        """Tokenise, count and score the first ``n_groups`` groups (answers are sorted)."""
        end = int(members[n_groups - 1][-1]) + 1
        sub = encode_chars(texts[:end])
        tables = grouped_ngrams(sub, group[:end], n_groups, MAX_N)
        scores = self_bleu_scores(tables, sub.lengths, group[:end])
        return group_means(scores, group[:end], n_groups)

    naive_values, naive_s = timed(
        lambda: [
            float(np.mean(self_bleu_naive([tokens[i] for i in members[g]])))
            for g in range(naive_groups)
        ]
    )
    fast_sub, fast_sub_s = timed(lambda: fast(naive_groups))
    fast_all, fast_all_s = timed(lambda: fast(len(labels)))
    assert np.allclose(fast_sub, naive_values, rtol=1e-12)
    assert np.allclose(fast_all[:naive_groups], naive_values, rtol=1e-12)

    def work(g: int) -> float:
        size = len(members[g])
        return size * (size - 1) * float(enc.lengths[members[g]].mean())

    scale = sum(work(g) for g in range(len(labels))) / sum(work(g) for g in range(naive_groups))
    print(
        f"naive on {naive_groups} of {len(labels)} groups: {naive_s:.2f} s; fast on the same "
        f"groups: {fast_sub_s:.3f} s -> speed-up x{naive_s / fast_sub_s:.0f} (values equal)"
    )
    print(
        f"fast on all {len(labels)} groups: {fast_all_s:.2f} s; naive extrapolated "
        f"(x{scale:.1f} the subset's pairwise work): {naive_s * scale:.0f} s "
        f"-> speed-up x{naive_s * scale / fast_all_s:.0f}"
    )


def main() -> None:
    default = Path(__file__).resolve().parents[1].parent / "shared/chatanime/data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=default)
    parser.add_argument("--naive-groups", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
        "(other work on the machine slows every number below)"
    )
    product_path(args.data, args.repeat)
    command_line(args.data)
    selfbleu_speedup(args.data, args.naive_groups)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
