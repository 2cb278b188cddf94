"""Judge fairness commands: ``--mode pairwise-vs-fans``, ``judge audit``, ``judge calibrate``.

Mounted on the ``chatanime judge`` sub-app of :mod:`chatanime.cli.judge` through its
extension points (``register_mode`` and ``judge_app.command``), so that module needs no
edit: :func:`register` (called with the root app like every area's) installs them once.
Every command is a thin call into :mod:`chatanime.judge.pairwise_job`,
:mod:`chatanime.judge.pairwise_summary`, :mod:`chatanime.judge.audit` and
:mod:`chatanime.judge.calibrate`. Those are imported when a command runs; registering
needs only the mode's name (:mod:`chatanime.judge.modes`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from chatanime.cli.judge import judge_app, register_mode
from chatanime.cli.judge_tables import console, print_dry_run, print_runs
from chatanime.cli.options import ModelUrlOpt, ProgressOpt
from chatanime.judge.modes import PAIRWISE_VS_FANS

if TYPE_CHECKING:
    from chatanime.judge.audit import JudgeAudit
    from chatanime.judge.calibrate import CalibrationResult, StudyJudging
    from chatanime.judge.pairwise_job import PairwiseJob, PairwiseReport
    from chatanime.judge.pairwise_summary import VsFansSummary
    from chatanime.judge.settings import JudgeSettings
    from chatanime.metrics.stats import Estimate
    from chatanime.runner import RunOptions
    from chatanime.store import Store

_installed: list[bool] = []


def _num(value: float, digits: int = 2, sign: bool = False) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _est(est: Estimate | None, digits: int = 2, sign: bool = True, pct: bool = False) -> str:
    if est is None or not math.isfinite(est.mean):
        return "-"
    if pct:
        return f"{est.mean:.0%} [{est.lo:.0%}, {est.hi:.0%}]"
    return f"{_num(est.mean, digits, sign)} [{_num(est.lo, digits)}, {_num(est.hi, digits)}]"


# ---------------------------------------------------------------- pairwise-vs-fans mode


def print_vs_fans(summary: VsFansSummary) -> None:
    """One table per judge: combined win / tie / loss with intervals, flips."""
    for judge in summary.judges:
        table = Table(title=f"{judge} vs the fans (both orders; {summary.level:.0%} intervals)")
        table.add_column("system", no_wrap=True)
        table.add_column("dimension")
        for col in ("items", "win", "tie", "loss", "net", "flips", "unscored"):
            table.add_column(col, justify="right")
        for c in (c for c in summary.cells if c.judge == judge):
            table.add_row(
                c.system,
                c.dimension,
                str(c.n_items),
                _est(c.win, pct=True),
                _est(c.tie, pct=True),
                _est(c.loss, pct=True),
                _est(c.net),
                _est(c.flip_share, pct=True),
                str(c.n_unscored),
            )
        console.print(table)
    console.print(
        "An item wins when its two orders sum to a win (win+win or win+tie); a win in one "
        "order and a loss in the other is a tie. flips = items whose verdict changes with "
        "the order.",
        highlight=False,
    )


def _summary(report: PairwiseReport, job: PairwiseJob, store: Store) -> VsFansSummary:
    from chatanime.judge.pairwise_summary import load_verdicts, summarise_verdicts

    items = {(d.system, d.character, d.scenario) for d, _ in report.selection.pairs}
    verdicts = load_verdicts(
        store, benchmark=job.benchmark.name, judges=list(job.judges), prompt_ref=job.prompt().ref
    )
    chosen = [v for v in verdicts if (v.system, v.character, v.scenario) in items]
    return summarise_verdicts(chosen)


def run_pairwise(opts: JudgeSettings) -> int:
    """``chatanime judge --mode pairwise-vs-fans``: compare, then print the summary."""
    from chatanime.judge.pairwise_job import judge_pairwise, pairwise_dry_run
    from chatanime.store import open_store

    store = open_store(opts.store_url)
    try:
        corpus = opts.corpus(store)
        job = opts.pairwise_job(corpus.benchmark)
        if opts.dry_run:
            print_dry_run(pairwise_dry_run(job, corpus, opts.prices()))
            return 0
        report = judge_pairwise(job, corpus, store, **opts.run_args())
        sel = report.selection
        console.print(
            f"{len(sel.pairs)} pairs x 2 orders ({sel.excluded_anchors} anchor dialogues "
            f"excluded, {sel.without_fans} items without a fans' dialogue); prompt "
            f"{job.prompt().ref}",
            highlight=False,
        )
        print_runs(report.runs, unit="judgments")
        print_vs_fans(_summary(report, job, store))
    finally:
        store.dispose()
    return 0 if report.complete else 1


# ---------------------------------------------------------------- audit


def print_audit(audit: JudgeAudit) -> None:
    from chatanime.judge.audit import LENGTH_UNIT

    family = audit.family or "unknown family"
    table = Table(title=f"audit of {audit.judge} ({family}) on study {audit.study}")
    table.add_column("metric", no_wrap=True)
    for col in (
        "n",
        "judge-human",
        "human-written gap",
        f"per {LENGTH_UNIT} chars",
        "rho(len)",
        "self gap",
        "rho(human)",
        "judge LOO",
        "human ceiling",
    ):
        table.add_column(col, justify="right")
    for m in audit.metrics:
        ln, ag = m.length, m.agreement
        slope = "-" if ln is None else f"{_num(ln.slope, sign=True)} [{_num(ln.lo)}, {_num(ln.hi)}]"
        table.add_row(
            m.metric,
            str(m.n_items),
            _est(m.bias),
            _est(m.human_written.gap if m.human_written else None),
            slope,
            "-" if ln is None else _num(ln.spearman),
            _est(m.self_preference.gap if m.self_preference else None),
            _num(ag.item.spearman),
            _num(ag.judge_loo),
            _num(ag.human_ceiling),
        )
    console.print(table)
    if audit.position:
        pos = Table(title="position (pairwise vs fans, both orders)")
        for col in ("dimension", "items", "flips", "first shown wins"):
            pos.add_column(col, justify="right")
        for p in audit.position:
            first = "-" if not math.isfinite(p.first_shown_share) else f"{p.first_shown_share:.0%}"
            pos.add_row(p.dimension, str(p.n_items), _est(p.flip_share, pct=True), first)
        console.print(pos)
    else:
        console.print("position: no pairwise verdicts on these items (use --pairwise)")
    findings = audit.findings()
    if not findings:
        console.print("[green]no material bias found[/]")
    for f in findings:
        console.print(f"[yellow]{f.check}[/] {f.metric}: {f.text}", highlight=False)


def _print_judging(judging: StudyJudging) -> None:
    runs = list(judging.pointwise.runs)
    print_runs(runs)
    if judging.pairwise is not None:
        print_runs(judging.pairwise.runs, unit="pairwise judgments")
    if judging.note:
        console.print(f"pairwise skipped: {judging.note}", highlight=False)


JudgeOpt = Annotated[str, typer.Option("--judge", help="Judge model, provider/model.")]
StudyOpt = Annotated[str, typer.Option(help="Annotation study (name or id) with ratings.")]
StoreOpt = Annotated[str | None, typer.Option(help="Store URL or SQLite path.")]
PairwiseOpt = Annotated[
    bool, typer.Option("--pairwise/--no-pairwise", help="Also judge pairwise vs the fans.")
]
RunOpt = Annotated[
    bool, typer.Option("--run/--no-run", help="Judge the study's items first (resumable).")
]
FansDataOpt = Annotated[
    Path | None, typer.Option("--data", help="Release folder: fans' dialogues if needed.")
]
FamilyOpt = Annotated[
    str | None, typer.Option(help="The judge's model family, if its name does not say.")
]
HumanSystemOpt = Annotated[
    list[str] | None, typer.Option(help="Another human-written system; repeatable.")
]
LanguageOpt = Annotated[str | None, typer.Option(help="Prompt/rubric language: zh|en.")]
StudyBenchOpt = Annotated[
    str | None,
    typer.Option(help="Benchmark name or folder (default: the study's, by built-in name)."),
]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, help="Calls in flight.")]
BootOpt = Annotated[int, typer.Option(min=10, help="Bootstrap replicates.")]
BootSeedOpt = Annotated[int, typer.Option(help="Bootstrap seed.")]


def judge_study_items(
    store: Store,
    study: str,
    judge: str,
    *,
    data: Path | None,
    benchmark: str | None,
    base_url: str | None,
    options: RunOptions,
    **kwargs: Any,
) -> StudyJudging:
    """Judge a study's items before the audit (``kwargs``: :func:`judge_study`'s options).

    A user benchmark is stored by name only, so its folder has to be given again; the
    fans' dialogues (for pairwise) come from ``data`` when the study does not hold them.
    """
    from chatanime.backends.registry import get_model
    from chatanime.benchmark import load_benchmark
    from chatanime.corpus import load_corpus
    from chatanime.judge.calibrate import judge_study

    bench = load_benchmark(benchmark) if benchmark else None
    fans = load_corpus(data, download=False, benchmark=bench or "chatanime") if data else None
    return judge_study(
        store,
        study,
        [judge],
        models=lambda name: get_model(name, base_url=base_url),
        options=options,
        fans=fans,
        benchmark=bench,
        **kwargs,
    )


def audit_command(
    judge: JudgeOpt,
    study: StudyOpt,
    store: StoreOpt = None,
    pairwise: PairwiseOpt = True,
    run: RunOpt = True,
    data: FansDataOpt = None,
    judge_family: FamilyOpt = None,
    human_system: HumanSystemOpt = None,
    language: LanguageOpt = None,
    benchmark: StudyBenchOpt = None,
    base_url: ModelUrlOpt = None,
    concurrency: ConcurrencyOpt = 16,
    progress: ProgressOpt = True,
    n_boot: BootOpt = 1000,
    seed: BootSeedOpt = 0,
) -> None:
    """Audit a judge against a study's human ratings: fan bias, length, position, self."""
    from chatanime.judge.audit import audit_judge
    from chatanime.runner import RunOptions
    from chatanime.store import open_store

    st = open_store(store)
    try:
        if run:
            judging = judge_study_items(
                st,
                study,
                judge,
                data=data,
                benchmark=benchmark,
                base_url=base_url,
                options=RunOptions(concurrency=concurrency, progress=progress),
                pairwise=pairwise,
                language=language,
            )
            _print_judging(judging)
        audit = audit_judge(
            st,
            study,
            judge,
            families={judge: judge_family} if judge_family else None,
            human_systems=tuple(human_system or ()),
            n_boot=n_boot,
            seed=seed,
        )
        print_audit(audit)
    finally:
        st.dispose()


# ---------------------------------------------------------------- calibrate


def print_calibration(result: CalibrationResult) -> None:
    style = "green" if result.status == "calibrated" else "yellow"
    console.print(f"[{style}]{result.message}[/]", highlight=False)
    if not result.metrics:
        return
    table = Table(title=f"calibration of {result.judge} (cross-validated)")
    table.add_column("metric", no_wrap=True)
    for col in ("rated", "MAE", "MAE cal.", "rho", "rho cal.", "r", "r cal.", "applied"):
        table.add_column(col, justify="right")
    for m in result.metrics:
        cv = m.cross_validated
        cells = ["-"] * 6
        if cv is not None:
            cells = [
                _num(v)
                for v in (
                    cv.mae_before,
                    cv.mae_after,
                    cv.spearman_before,
                    cv.spearman_after,
                    cv.pearson_before,
                    cv.pearson_after,
                )
            ]
        table.add_row(m.metric, str(m.n_pairs), *cells, str(m.n_applied))
    console.print(table)
    for m in result.metrics:
        if m.note:
            console.print(f"  {m.metric}: {m.note}", highlight=False)


def calibrate_command(
    judge: JudgeOpt,
    study: StudyOpt,
    store: StoreOpt = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    out: Annotated[
        Path | None, typer.Option(help="Write the calibrated scores of unrated items (CSV).")
    ] = None,
) -> None:
    """Fit a monotone map from a judge's scores to a study's ratings; apply it to the rest."""
    from chatanime.judge.calibrate import calibrate_judge
    from chatanime.store import open_store

    st = open_store(store)
    try:
        result = calibrate_judge(st, judge, study, k=folds)
    finally:
        st.dispose()
    print_calibration(result)
    if out is not None and result.rows:
        result.frame().to_csv(out, index=False)
        console.print(f"wrote {len(result.rows)} calibrated scores to {out}", highlight=False)


def install() -> None:
    """Add the mode and the sub-commands to ``chatanime judge`` (once)."""
    if _installed:
        return
    _installed.append(True)
    register_mode(PAIRWISE_VS_FANS, run_pairwise)
    judge_app.command("audit")(audit_command)
    judge_app.command("calibrate")(calibrate_command)


def register(app: typer.Typer) -> None:
    """Area entry point: the commands live on ``chatanime judge``, not on ``app`` itself."""
    del app
    install()
