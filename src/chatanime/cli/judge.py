"""``chatanime judge``: LLM judges over a corpus, then the bias checks of their scores.

Structure (so other areas can extend it without editing this file):

- ``judge_app`` is a typer sub-app mounted as ``chatanime judge``. Its callback *is* the
  judging command (``invoke_without_command=True``): ``chatanime judge --judge X ...``
  runs it, while ``chatanime judge audit ...`` skips it and runs the sub-command an
  area added with ``judge_app.command("audit")(fn)`` in its own ``register``.
- ``--mode`` is looked up in :data:`MODES`; an area adds a mode (``pairwise-vs-fans``)
  with :func:`register_mode(name, handler)`, where ``handler(JudgeCliOptions) -> int``
  returns the exit code. Built in: ``pointwise``, ``pointwise-round``, ``diversity``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, TypedDict

import typer
from rich.console import Console
from rich.table import Table

from chatanime.backends.base import ChatModel, GenerationParams
from chatanime.backends.registry import get_model
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.cli.generate import parse_ids
from chatanime.corpus import Corpus, load_corpus
from chatanime.errors import DataError
from chatanime.judge.bias import (
    OVERALL,
    BiasReport,
    JudgeBias,
    answer_lengths,
    bias_report,
    mean_scores,
)
from chatanime.judge.job import (
    JudgeDryRun,
    JudgeJob,
    JudgeReport,
    dry_run,
    job_selection,
    judge,
)
from chatanime.judge.job import with_stored_systems as with_stored
from chatanime.judge.judgments import JudgeRun
from chatanime.judge.llm_diversity import DiversityJudge, DiversityReport, judge_diversity
from chatanime.judge.rubric import METRICS
from chatanime.pricing import PriceTable, price_table
from chatanime.runner import RateLimit, RunOptions
from chatanime.store import Store, open_store

console = Console()
ModeHandler = Callable[["JudgeCliOptions"], int]
MODES: dict[str, ModeHandler] = {}


def register_mode(name: str, handler: ModeHandler) -> None:
    """Make ``chatanime judge --mode NAME`` call ``handler``."""
    MODES[name] = handler


class RunArgs(TypedDict):
    """How a judge job runs (models, speed, prices, recorded config), not what it judges."""

    models: Callable[[str], ChatModel]
    options: RunOptions
    prices: PriceTable
    run_config: dict[str, object]


@dataclass(frozen=True)
class JudgeCliOptions:
    """Everything ``chatanime judge`` was given, with the shared set-up steps."""

    judges: tuple[str, ...]
    mode: str
    systems: tuple[str, ...] | None
    characters: tuple[str, ...] | None
    scenarios: tuple[int, ...] | None
    limit: int | None
    language: str | None
    data: Path | None
    extra: tuple[Path, ...]
    benchmark_name: str
    store_url: str | None
    concurrency: int
    rpm: float | None
    tpm: float | None
    dry_run: bool
    base_url: str | None
    prices_path: Path | None
    progress: bool
    params: GenerationParams
    repairs: int
    include_anchors: bool
    diversity_size: int
    seed: int

    def benchmark(self) -> Benchmark:
        return load_benchmark(self.benchmark_name)

    def corpus(self, store: Store | None = None) -> Corpus:
        corpus = load_corpus(self.data, extra=list(self.extra), benchmark=self.benchmark())
        return with_stored(corpus, store, self.systems) if store and self.systems else corpus

    def models(self) -> Callable[[str], ChatModel]:
        return lambda name: get_model(name, base_url=self.base_url)

    def run_options(self) -> RunOptions:
        limits = {"*": RateLimit(self.rpm, self.tpm)} if self.rpm or self.tpm else {}
        return RunOptions(concurrency=self.concurrency, rate_limits=limits, progress=self.progress)

    def run_config(self) -> dict[str, object]:
        return {"concurrency": self.concurrency, "rpm": self.rpm, "tpm": self.tpm}

    def prices(self) -> PriceTable:
        return price_table(self.prices_path)

    def run_args(self) -> RunArgs:
        """The keyword arguments every judge job takes from the command line."""
        return RunArgs(
            models=self.models(),
            options=self.run_options(),
            prices=self.prices(),
            run_config=self.run_config(),
        )

    def job(self, benchmark: Benchmark, mode: str | None = None) -> JudgeJob:
        """The pointwise job (other modes reuse its selection with ``mode='pointwise'``)."""
        mode = mode or self.mode
        if mode not in ("pointwise", "pointwise-round"):
            raise DataError(f"--mode {mode} is not a pointwise mode")
        return JudgeJob(
            judges=self.judges,
            benchmark=benchmark,
            mode="pointwise" if mode == "pointwise" else "pointwise-round",
            language=self.language,
            systems=self.systems,
            characters=self.characters,
            scenarios=self.scenarios,
            limit=self.limit,
            include_anchors=self.include_anchors,
            repairs=self.repairs,
            params=self.params,
        )


# ---------------------------------------------------------------- printing


def _usd(value: float, unpriced: set[str]) -> str:
    return f"${value:.4f}" + (" (+unpriced)" if unpriced else "")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A rich table: first column left-aligned and unwrapped, the rest right-aligned."""
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _run_row(run: JudgeRun) -> tuple[str, ...]:
    c, s = run.counts, run.summary
    counts = (c.selected, c.scored, c.unscored, c.no_reply, s.calls)
    return (run.judge, *map(str, counts), _usd(s.cost_usd, s.unpriced_models))


def print_runs(runs: list[JudgeRun], unit: str = "items") -> None:
    columns = ("judge", unit, "scored", "unscored", "no reply", "calls", "cost")
    _table(f"judges ({unit})", columns, map(_run_row, runs))
    for run in runs:
        c, s = run.counts, run.summary
        console.print(
            f"{run.judge}: {run.repaired} needed a repair request, {s.replayed_calls} calls "
            f"replayed from the store, {c.missing} not judged",
            highlight=False,
        )
        errors = [r.get("error") for r in s.results.values() if r.get("error")]
        for error in [*errors, *s.errors.values()][:3]:
            console.print(f"[yellow]  {error}[/]", soft_wrap=True, highlight=False)
        if s.aborted:
            console.print(f"[red]  aborted:[/] {s.aborted}")


def print_means(means: dict[tuple[str, str], float], systems: list[str]) -> None:
    sources = list(dict.fromkeys(src for src, _ in means))
    rows = ((system, *(_fmt(means.get((src, system))) for src in sources)) for system in systems)
    _table("mean score per item (9 metrics x rounds)", ("system", *sources), rows)


def _bias_row(jb: JudgeBias) -> tuple[str, ...]:
    rhos = {m: c.rho for m, c in jb.length.items() if m != OVERALL and c.rho is not None}
    worst = max(rhos, key=lambda m: abs(rhos[m]), default=None)
    sp = jb.self_preference
    return (
        jb.judge,
        f"{jb.unscored}/{jb.judgments} ({jb.unscored_share:.0%})",
        _fmt(jb.length[OVERALL].rho),
        "-" if worst is None else f"{worst} {rhos[worst]:+.2f}",
        "n/a" if sp is None else f"{sp.family}: {sp.gap:+.2f} (net {_fmt(sp.net_gap)})",
    )


def print_bias(report: BiasReport) -> None:
    """The bias checks, then each metric's correlation with answer length per judge."""
    columns = ("judge", "unscored", "length rho", "max |rho| metric", "self-preference")
    _table(f"bias checks ({report.mode})", columns, map(_bias_row, report.judges))
    _table(
        "length correlation (Spearman rho)",
        ("metric", *(jb.judge for jb in report.judges)),
        ((m, *(_fmt(jb.length[m].rho) for jb in report.judges)) for m in (*METRICS, OVERALL)),
    )


def print_dry_run(plan: JudgeDryRun) -> None:
    rows = (
        (e.model, *map(str, (e.calls, e.input_tokens, e.output_tokens)), _fmt(e.usd, 4))
        for e in plan.estimates
    )
    columns = ("judge", "calls", "input tokens (est.)", "output tokens (est.)", "USD")
    _table(f"dry run: {plan.items} items ({plan.excluded_anchors} anchors excluded)", columns, rows)
    console.print("a floor: repair requests for invalid replies are not counted")


# ---------------------------------------------------------------- modes


def run_pointwise(opts: JudgeCliOptions) -> int:
    """The pointwise modes: judge, then print counts, means and bias checks."""
    store = open_store(opts.store_url)
    try:
        corpus = opts.corpus(store)
        job = opts.job(corpus.benchmark)
        if opts.dry_run:
            print_dry_run(dry_run(job, corpus, opts.prices()))
            return 0
        report = judge(job, corpus, store, **opts.run_args())
        _print_pointwise(report, job, store)
    finally:
        store.dispose()
    return 0 if report.complete else 1


def _print_pointwise(report: JudgeReport, job: JudgeJob, store: Store) -> None:
    sel = report.selection
    console.print(
        f"{len(sel.dialogues)} items selected ({sel.excluded_anchors} anchor dialogues "
        f"excluded); mode {job.mode}; prompt {job.prompt().ref}"
    )
    print_runs(report.runs)
    items = {(d.system, d.character, d.scenario) for d in sel.dialogues}
    bench, ref, judges = job.benchmark.name, job.prompt().ref, list(job.judges)
    means = mean_scores(
        store, benchmark=bench, mode=job.mode, judges=judges, prompt_ref=ref, items=items
    )
    print_means(means, sel.systems)
    bias = bias_report(
        store,
        lengths=answer_lengths(sel.dialogues, job.benchmark.language),
        benchmark=bench,
        mode=job.mode,
        judges=judges,
        prompt_ref=ref,
        items=items,
    )
    print_bias(bias)


def run_diversity(opts: JudgeCliOptions) -> int:
    """``--mode diversity``: one judged 1..5 per (system, character) answer set."""
    store = open_store(opts.store_url)
    try:
        corpus = opts.corpus(store)
        job = replace(opts.job(corpus.benchmark, mode="pointwise"), limit=None)
        dialogues = job_selection(job, corpus).dialogues
        judges = [
            DiversityJudge(
                model,
                corpus.benchmark.name,
                opts.language or corpus.benchmark.language,
                size=opts.diversity_size,
                seed=opts.seed,
                params=opts.params,
                repairs=opts.repairs,
            )
            for model in opts.judges
        ]
        if opts.dry_run:
            raise DataError("--dry-run is not supported with --mode diversity yet")
        report = judge_diversity(
            judges,
            corpus,
            dialogues,
            store,
            limit=opts.limit,
            **opts.run_args(),
        )
        _print_diversity(report)
    finally:
        store.dispose()
    ok = all(r.counts.missing == 0 and r.counts.no_reply == 0 for r in report.runs)
    return 0 if ok else 1


def _print_diversity(report: DiversityReport) -> None:
    print_runs(report.runs, unit="sets")
    judges = list(dict.fromkeys(j for j, _, _ in report.scores))
    systems = list(dict.fromkeys(s for _, s, _ in report.scores))

    def mean(judge: str, system: str) -> str:
        got = [v for (j, s, _), v in report.scores.items() if (j, s) == (judge, system) and v]
        return _fmt(sum(got) / len(got)) if got else "-"

    rows = ((s, *(mean(j, s) for j in judges)) for s in systems)
    _table("LLM-judged diversity (mean over characters, 1-5)", ("system", *judges), rows)


register_mode("pointwise", run_pointwise)
register_mode("pointwise-round", run_pointwise)
register_mode("diversity", run_diversity)


# ---------------------------------------------------------------- the command


def _split(text: str | None) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else None


judge_app = typer.Typer(
    name="judge",
    help="Score dialogues with LLM judges (resumable: rerun to finish), then check biases.",
    invoke_without_command=True,
)


@judge_app.callback(invoke_without_command=True)
def judge_command(
    ctx: typer.Context,
    judge_: Annotated[
        list[str] | None, typer.Option("--judge", help="Judge model, provider/model; repeatable.")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="pointwise | pointwise-round | diversity | pairwise-vs-fans")
    ] = "pointwise",
    systems: Annotated[str | None, typer.Option(help="Systems, e.g. human,gpt-4.1.")] = None,
    characters: Annotated[str | None, typer.Option(help="Slugs, e.g. luffy,naruto.")] = None,
    scenarios: Annotated[str | None, typer.Option(help="Ids, e.g. 1-5,9.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items (sets).")] = None,
    language: Annotated[str | None, typer.Option(help="Prompt/rubric language: zh|en.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Release folder.")] = None,
    extra: Annotated[list[Path] | None, typer.Option(help="Extra system file.")] = None,
    benchmark: Annotated[str, typer.Option(help="Benchmark name or folder.")] = "chatanime",
    store: Annotated[str | None, typer.Option(help="Store URL or SQLite path.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight.")] = 16,
    rpm: Annotated[float | None, typer.Option(help="Requests/minute per provider.")] = None,
    tpm: Annotated[float | None, typer.Option(help="Tokens/minute per provider.")] = None,
    dry_run_: Annotated[bool, typer.Option("--dry-run", help="Plan and cost only.")] = False,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Server URL.")] = None,
    prices: Annotated[Path | None, typer.Option(help="Price overrides (YAML).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    temperature: Annotated[float | None, typer.Option()] = 0.0,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed sent to the judge.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per call.")] = 120.0,
    repairs: Annotated[int, typer.Option(min=0, help="Re-asks after an invalid reply.")] = 2,
    include_anchors: Annotated[
        bool, typer.Option("--include-anchors", help="Also judge the rubric's anchor dialogues.")
    ] = False,
    diversity_size: Annotated[int, typer.Option(min=2, help="Answers per diversity set.")] = 10,
    sample_seed: Annotated[int, typer.Option(help="Seed of the diversity samples.")] = 0,
) -> None:
    """Judge dialogues: `chatanime judge --judge openai/gpt-4.1 --systems human,gpt-4.1`.

    Resumable: rerun the same command to finish; items whose judge never replied are
    retried then (exit code 1 until every item has a judgment).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not judge_:
        raise typer.BadParameter("give at least one --judge provider/model", param_hint="--judge")
    if mode not in MODES:
        raise typer.BadParameter(f"use one of: {', '.join(MODES)}", param_hint="--mode")
    opts = JudgeCliOptions(
        judges=tuple(dict.fromkeys(judge_)),
        mode=mode,
        systems=_split(systems),
        characters=_split(characters),
        scenarios=parse_ids(scenarios) if scenarios else None,
        limit=limit,
        language=language,
        data=data,
        extra=tuple(extra or ()),
        benchmark_name=benchmark,
        store_url=store,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        dry_run=dry_run_,
        base_url=base_url,
        prices_path=prices,
        progress=progress,
        params=GenerationParams(
            temperature=temperature, max_tokens=max_tokens, seed=seed, timeout_s=timeout
        ),
        repairs=repairs,
        include_anchors=include_anchors,
        diversity_size=diversity_size,
        seed=sample_seed,
    )
    code = MODES[mode](opts)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Mount ``chatanime judge`` (and whatever sub-commands other areas add to it)."""
    app.add_typer(judge_app, name="judge")
    from chatanime.cli import judge_fairness  # pairwise-vs-fans, audit, calibrate

    judge_fairness.install()
