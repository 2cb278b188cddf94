"""``chatanime judge``: LLM judges over a corpus, then the bias checks of their scores.

Structure (so other areas can extend it without editing this file):

- ``judge_app`` is a typer sub-app mounted as ``chatanime judge``. Its callback *is* the
  judging command (``invoke_without_command=True``): ``chatanime judge --judge X ...``
  runs it, while ``chatanime judge audit ...`` skips it and runs the sub-command an
  area added with ``judge_app.command("audit")(fn)`` in its own ``register``.
- ``--mode`` is looked up in :data:`MODES`; an area adds a mode (``pairwise-vs-fans``)
  with :func:`register_mode(name, handler)`, where ``handler(JudgeSettings) -> int``
  returns the exit code. Built in: ``pointwise``, ``pointwise-round``, ``diversity``.

The options become a :class:`~chatanime.judge.settings.JudgeSettings` (the library's
description of one invocation: it builds the jobs and run arguments), and the tables
printed are in :mod:`chatanime.cli.judge_tables`. The judge library is imported by the
mode handlers when they run, never when the CLI registers the command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chatanime.cli.generate import parse_ids
from chatanime.cli.judge_tables import (
    console,
    fmt,
    print_bias,
    print_dry_run,
    print_means,
    print_runs,
    print_table,
)
from chatanime.cli.options import (
    DryRunOpt,
    MaxTokensOpt,
    ModelUrlOpt,
    PricesOpt,
    ProgressOpt,
    RpmOpt,
    TemperatureOpt,
    TimeoutOpt,
    TpmOpt,
    comma_list,
)
from chatanime.errors import DataError

if TYPE_CHECKING:
    from chatanime.judge.job import JudgeJob, JudgeReport
    from chatanime.judge.llm_diversity import DiversityReport
    from chatanime.judge.settings import JudgeSettings
    from chatanime.store import Store

ModeHandler = Callable[["JudgeSettings"], int]
MODES: dict[str, ModeHandler] = {}


def register_mode(name: str, handler: ModeHandler) -> None:
    """Make ``chatanime judge --mode NAME`` call ``handler``."""
    MODES[name] = handler


# ---------------------------------------------------------------- modes


def run_pointwise(opts: JudgeSettings) -> int:
    """The pointwise modes: judge, then print counts, means and bias checks."""
    from chatanime.judge.job import dry_run as plan_judging
    from chatanime.judge.job import judge
    from chatanime.store import open_store

    store = open_store(opts.store_url)
    try:
        corpus = opts.corpus(store)
        job = opts.job(corpus.benchmark)
        if opts.dry_run:
            print_dry_run(plan_judging(job, corpus, opts.prices()))
            return 0
        report = judge(job, corpus, store, **opts.run_args())
        _print_pointwise(report, job, store)
    finally:
        store.dispose()
    return 0 if report.complete else 1


def _print_pointwise(report: JudgeReport, job: JudgeJob, store: Store) -> None:
    from chatanime.judge.bias import answer_lengths, bias_report, mean_scores

    sel, prompt = report.selection, job.prompt()
    console.print(
        f"{len(sel.dialogues)} items selected ({sel.excluded_anchors} anchor dialogues "
        f"excluded); mode {job.mode}; prompt {prompt.ref}; rubric {prompt.rubric_ref}",
        highlight=False,
    )
    print_runs(report.runs)
    # Only this prompt and rubric as shown: a run without examples is another source.
    scope: dict[str, Any] = {
        "benchmark": job.benchmark.name,
        "mode": job.mode,
        "judges": list(job.judges),
        "prompt_ref": prompt.ref,
        "rubric_ref": prompt.rubric_ref,
        "items": {(d.system, d.character, d.scenario) for d in sel.dialogues},
    }
    print_means(mean_scores(store, **scope), sel.systems)
    lengths = answer_lengths(sel.dialogues, job.benchmark.language)
    print_bias(bias_report(store, lengths=lengths, **scope))


def run_diversity(opts: JudgeSettings) -> int:
    """``--mode diversity``: one judged 1..5 per (system, character) answer set."""
    from chatanime.judge.job import job_selection
    from chatanime.judge.llm_diversity import judge_diversity
    from chatanime.store import open_store

    store = open_store(opts.store_url)
    try:
        corpus = opts.corpus(store)
        job = replace(opts.job(corpus.benchmark, mode="pointwise"), limit=None)
        dialogues = job_selection(job, corpus).dialogues
        judges = opts.diversity_judges(corpus.benchmark)
        if opts.dry_run:
            raise DataError("--dry-run is not supported with --mode diversity yet")
        report = judge_diversity(
            judges, corpus, dialogues, store, limit=opts.limit, **opts.run_args()
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
        return fmt(sum(got) / len(got)) if got else "-"

    rows = ((s, *(mean(j, s) for j in judges)) for s in systems)
    print_table("LLM-judged diversity (mean over characters, 1-5)", ("system", *judges), rows)


register_mode("pointwise", run_pointwise)
register_mode("pointwise-round", run_pointwise)
register_mode("diversity", run_diversity)


# ---------------------------------------------------------------- the command


def _split(text: str | None) -> tuple[str, ...] | None:
    """``"a,b"`` -> ``("a", "b")``; nothing given (or only commas) -> no filter."""
    names = comma_list(text or "")
    return names or None


def judge_settings(values: Mapping[str, Any]) -> JudgeSettings:
    """The command's parsed options (``ctx.params``) as settings; usage errors exit 2."""
    v = dict(values)
    if not v["judges"]:
        raise typer.BadParameter("give at least one --judge provider/model", param_hint="--judge")
    if v["mode"] not in MODES:
        raise typer.BadParameter(f"use one of: {', '.join(MODES)}", param_hint="--mode")
    from chatanime.backends.base import GenerationParams
    from chatanime.judge.settings import JudgeSettings

    params = GenerationParams(
        temperature=v["temperature"],
        max_tokens=v["max_tokens"],
        seed=v["seed"],
        timeout_s=v["timeout"],
    )
    return JudgeSettings(
        judges=tuple(dict.fromkeys(v["judges"])),
        mode=v["mode"],
        systems=_split(v["systems"]),
        characters=_split(v["characters"]),
        scenarios=parse_ids(v["scenarios"]) if v["scenarios"] else None,
        limit=v["limit"],
        language=v["language"],
        data=v["data"],
        extra=tuple(v["extra"] or ()),
        benchmark_name=v["benchmark"],
        store_url=v["store"],
        concurrency=v["concurrency"],
        rpm=v["rpm"],
        tpm=v["tpm"],
        dry_run=v["dry_run"],
        base_url=v["base_url"],
        prices_path=v["prices"],
        progress=v["progress"],
        params=params,
        repairs=v["repairs"],
        include_anchors=v["include_anchors"],
        rubric_examples=v["rubric_examples"],
        diversity_size=v["diversity_size"],
        seed=v["sample_seed"],
    )


judge_app = typer.Typer(
    name="judge",
    help="Score dialogues with LLM judges (resumable: rerun to finish), then check biases.",
    invoke_without_command=True,
)

_Str = str | None
JudgesOpt = Annotated[
    list[str] | None, typer.Option("--judge", help="Judge model, provider/model; repeatable.")
]
ModeOpt = Annotated[
    str, typer.Option(help="pointwise | pointwise-round | diversity | pairwise-vs-fans")
]
SystemsOpt = Annotated[_Str, typer.Option(help="Systems, e.g. human,gpt-4.1.")]
CharactersOpt = Annotated[_Str, typer.Option(help="Slugs, e.g. luffy,naruto.")]
ScenariosOpt = Annotated[_Str, typer.Option(help="Ids, e.g. 1-5,9.")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N items (sets).")]
LanguageOpt = Annotated[_Str, typer.Option(help="Prompt/rubric language: zh|en.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Release folder.")]
ExtraOpt = Annotated[list[Path] | None, typer.Option(help="Extra system file.")]
BenchOpt = Annotated[str, typer.Option(help="Benchmark name or folder.")]
StoreOpt = Annotated[_Str, typer.Option(help="Store URL or SQLite path.")]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, help="Calls in flight.")]
SeedOpt = Annotated[int | None, typer.Option(help="Sampling seed sent to the judge.")]
RepairsOpt = Annotated[int, typer.Option(min=0, help="Re-asks after an invalid reply.")]
AnchorsOpt = Annotated[
    bool, typer.Option("--include-anchors", help="Also judge the rubric's anchor dialogues.")
]
RubricExamplesOpt = Annotated[
    bool,
    typer.Option(
        "--rubric-examples/--no-rubric-examples",
        help="Show the judge the rubric's anchor examples (pointwise modes; most of each "
        "call's input tokens). Without them the scores are a separate source; the anchor "
        "dialogues stay excluded (unless --include-anchors) so the items match a run with "
        "examples.",
    ),
]
DiversitySizeOpt = Annotated[int, typer.Option(min=2, help="Answers per diversity set.")]
SampleSeedOpt = Annotated[int, typer.Option(help="Seed of the diversity samples.")]


@judge_app.callback(invoke_without_command=True)
def judge_command(
    ctx: typer.Context,
    judges: JudgesOpt = None,
    mode: ModeOpt = "pointwise",
    systems: SystemsOpt = None,
    characters: CharactersOpt = None,
    scenarios: ScenariosOpt = None,
    limit: LimitOpt = None,
    language: LanguageOpt = None,
    data: DataOpt = None,
    extra: ExtraOpt = None,
    benchmark: BenchOpt = "chatanime",
    store: StoreOpt = None,
    concurrency: ConcurrencyOpt = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    dry_run: DryRunOpt = False,
    base_url: ModelUrlOpt = None,
    prices: PricesOpt = None,
    progress: ProgressOpt = True,
    temperature: TemperatureOpt = 0.0,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    timeout: TimeoutOpt = 120.0,
    repairs: RepairsOpt = 2,
    include_anchors: AnchorsOpt = False,
    rubric_examples: RubricExamplesOpt = True,
    diversity_size: DiversitySizeOpt = 10,
    sample_seed: SampleSeedOpt = 0,
) -> None:
    """Judge dialogues: `chatanime judge --judge openai/gpt-4.1 --systems human,gpt-4.1`.

    Resumable: rerun the same command to finish; items whose judge never replied are
    retried then (exit code 1 until every item has a judgment).
    """
    if ctx.invoked_subcommand is not None:
        return
    # Every option is read from ctx.params by name (judge_settings), not repeated here.
    settings = judge_settings(ctx.params)
    code = MODES[settings.mode](settings)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Mount ``chatanime judge`` (and whatever sub-commands other areas add to it)."""
    app.add_typer(judge_app, name="judge")
    from chatanime.cli import judge_fairness  # pairwise-vs-fans, audit, calibrate

    judge_fairness.install()
