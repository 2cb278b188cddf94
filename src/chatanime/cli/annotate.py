"""``chatanime annotate ...`` (studies, the web app, exports, links) and ``chatanime agreement``."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chatanime.cli.options import (
    DEFAULT_BASE,
    BaseUrlOpt,
    StoreOpt,
    comma_list,
    web_app_store,
)

if TYPE_CHECKING:
    from chatanime.annotate.study import CreatedStudy

console = Console()

StudyOpt = Annotated[str, typer.Option("--study", help="Study id or name.")]


# create-study's options, named once so the command's signature stays readable.
NameOpt = Annotated[str, typer.Option("--name", help="A unique study name, e.g. pilot.")]
SystemsOpt = Annotated[str, typer.Option(help="Comma-separated systems, e.g. human,gpt-4.1.")]
CharactersOpt = Annotated[str, typer.Option(help="Comma-separated character slugs or names.")]
ScenariosOpt = Annotated[str, typer.Option(help="Scenario ids and ranges, e.g. 1-10,15.")]
AnnotatorsOpt = Annotated[str, typer.Option(help="Comma-separated annotator names.")]
OverlapOpt = Annotated[int, typer.Option(help="Annotators per item (>= 2 for agreement).")]
DiversitySetsOpt = Annotated[
    int, typer.Option(help="Diversity sets per (system, character); 0 for none.")
]
DiversityNOpt = Annotated[int, typer.Option(help="Answers per diversity set.")]
LanguageOpt = Annotated[
    str | None,
    typer.Option(help="Rubric, cards and interface: zh or en (default: the benchmark's)."),
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed for assignment and order.")]
ReleaseOpt = Annotated[
    Path | None, typer.Option("--data", help="Release folder (else $CHATANIME_DATA, cache).")
]
RatedExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--extra", help="A system file to rate (e.g. runs/my-bot.json); repeatable."),
]
BenchmarkOpt = Annotated[str, typer.Option(help="Benchmark name or folder.")]


def create_study_cmd(
    name: NameOpt,
    systems: SystemsOpt,
    characters: CharactersOpt,
    scenarios: ScenariosOpt,
    annotators: AnnotatorsOpt,
    overlap: OverlapOpt = 2,
    diversity_sets: DiversitySetsOpt = 0,
    diversity_n: DiversityNOpt = 5,
    language: LanguageOpt = None,
    seed: SeedOpt = None,
    data: ReleaseOpt = None,
    extra: RatedExtraOpt = None,
    benchmark: BenchmarkOpt = "chatanime",
    store: StoreOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE,
) -> None:
    """Create a study from a corpus and print each annotator's secret invite link once.

    The corpus is the release for ``chatanime``; for any other benchmark it is the
    ``--extra`` system files (plus ``--data`` when given), as in every other command.
    """
    from chatanime.annotate.study_specs import create_rating_study, rating_study_spec
    from chatanime.corpus import load_corpus

    corpus = load_corpus(data, extra=extra or [], benchmark=benchmark)
    spec = rating_study_spec(
        corpus,
        name=name,
        systems=systems,
        characters=characters,
        scenarios=scenarios,
        annotators=annotators,
        overlap=overlap,
        diversity_sets=diversity_sets,
        diversity_n=diversity_n,
        language=language,
        seed=seed,
    )
    _print_created(create_rating_study(web_app_store(store), corpus, spec), base_url)


def _print_created(created: CreatedStudy, base_url: str) -> None:
    """The new study, its invite links and admin token: the only time the tokens are shown."""
    console.print(
        f"Study [bold]{created.name}[/] ({created.study_id}): {created.n_items} items, "
        f"{created.n_assignments} assignments."
    )
    _print_links(created.invites, base_url)
    console.print(
        f"Admin: {base_url.rstrip('/')}/admin  token: [bold]{created.admin_token}[/]\n"
        "[yellow]Tokens are stored hashed and shown only now; "
        "`chatanime annotate links` issues new ones.[/]",
        soft_wrap=True,
    )


def _print_links(invites: Any, base_url: str) -> None:
    """One plain line per annotator, never wrapped, so a link can be copied whole."""
    console.print("Invite links (secret: send each to its annotator only):")
    for invite in invites:
        console.print(f"  {invite.annotator}\t{invite.url(base_url)}", soft_wrap=True)


def serve_cmd(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark cookies Secure (when served over HTTPS).")
    ] = False,
    language: Annotated[str, typer.Option(help="Language of pages outside a study.")] = "zh",
) -> None:
    """Serve the annotation app for every study in the store."""
    import chatanime.annotate  # noqa: F401
    from chatanime.annotate.app import serve

    serve(store, host=host, port=port, secure_cookies=secure_cookies, language=language)


def export_cmd(
    study: StudyOpt,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    store: StoreOpt = None,
) -> None:
    """Export every rating of a study in long form (one row per rating)."""
    from chatanime.annotate.ratings import rating_records, write_ratings

    records = rating_records(web_app_store(store), study)
    if out is None:
        write_ratings(records, sys.stdout, fmt)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        n = write_ratings(records, handle, fmt)
    console.print(f"{n} ratings -> {out}")


def links_cmd(
    study: StudyOpt,
    annotators: Annotated[
        str, typer.Option(help="Comma-separated annotators (default: all).")
    ] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Also issue a new admin token.")] = False,
    store: StoreOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE,
) -> None:
    """Issue new invite links (old ones stop working): tokens are stored hashed."""
    from chatanime.annotate.study import rotate_admin_token, rotate_invites

    opened = web_app_store(store)
    _print_links(rotate_invites(opened, study, comma_list(annotators)), base_url)
    if admin:
        console.print(f"Admin token: [bold]{rotate_admin_token(opened, study)}[/]")


def _fmt(x: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(x) else f"{x:.{digits}f}"


def _ci(est: Any) -> str:
    if not math.isfinite(est.mean):
        return "—"
    if not (math.isfinite(est.lo) and math.isfinite(est.hi)):
        return _fmt(est.mean)
    return f"{_fmt(est.mean)} [{_fmt(est.lo, 2)}, {_fmt(est.hi, 2)}]"


def _agreement_table(analysis: Any) -> Table:
    table = Table(
        title=f"Inter-annotator agreement — {analysis.study_name}: {analysis.n_annotators} "
        f"annotators, {analysis.n_items} items, {analysis.n_ratings} ratings (95% bootstrap CI)"
    )
    for col in ("metric", "items", "ratings", "α ordinal", "ICC(1,1)", "κ quadratic"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in analysis.agreement:
        table.add_row(
            m.metric, str(m.n_items), str(m.n_ratings), _ci(m.alpha), _ci(m.icc), _ci(m.kappa)
        )
    return table


def _calibration_table(cal: Any) -> Table:
    table = Table(title=f"Judge vs humans — {cal.judge_model}: {cal.n_items} matched items")
    cols = (
        "metric",
        "n",
        "Spearman",
        "Pearson",
        "Kendall",
        "system ρ",
        "systems",
        "judge LOO ρ",
        "human ceiling ρ",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in cal.metrics:
        table.add_row(
            m.metric,
            str(m.item.n),
            _fmt(m.item.spearman),
            _fmt(m.item.pearson),
            _fmt(m.item.kendall),
            _fmt(m.system_spearman),
            str(m.n_systems),
            _fmt(m.judge_loo),
            _fmt(m.human_ceiling),
        )
    return table


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def agreement_cmd(
    study: StudyOpt,
    store: StoreOpt = None,
    judge: Annotated[
        str | None, typer.Option(help="Judge model (default: every judge with scores).")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Inter-annotator agreement per metric and the judge-vs-human calibration of a study."""
    from chatanime.annotate.analysis import analyse_study

    analysis = analyse_study(web_app_store(store), study, judge=judge, n_boot=n_boot, seed=seed)
    if as_json:
        typer.echo(json.dumps(_jsonable(asdict(analysis)), ensure_ascii=False, indent=2))
        return
    console.print(_agreement_table(analysis))
    if not analysis.calibrations:
        console.print("No scored pointwise judgments match this study's items (no calibration).")
    for cal in analysis.calibrations:
        console.print(_calibration_table(cal))
    console.print(
        "LOO: each annotator vs the mean of the others on shared items; the judge vs the same "
        "reference on the same items. Human scores are per dialogue; the judge's are its "
        "round-0 score or the mean of rounds 1 and 2."
    )


def register(app: typer.Typer) -> None:
    annotate_app = typer.Typer(
        help="Human evaluation: studies, the annotation web app, exports.", no_args_is_help=True
    )
    annotate_app.command("create-study")(create_study_cmd)
    annotate_app.command("serve")(serve_cmd)
    annotate_app.command("export")(export_cmd)
    annotate_app.command("links")(links_cmd)
    app.add_typer(annotate_app, name="annotate")
    app.command("agreement")(agreement_cmd)
