"""``chatanime collect ...``: human role-play answers (fans write both rounds as the character)."""

from __future__ import annotations

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
    from chatanime.annotate.collect_study import CollectSpec, CreatedCollection

console = Console()

StudyOpt = Annotated[str, typer.Option("--study", help="Collection study id or name.")]


# create-study's options, named once so the command's signature stays readable.
NameOpt = Annotated[str, typer.Option("--name", help="Unique study name; also the system name.")]
UserSimOpt = Annotated[
    str, typer.Option("--user-sim", help="User-simulator model for round 2 (provider/model).")
]
CharactersOpt = Annotated[str, typer.Option(help="Comma-separated character slugs or names.")]
ScenariosOpt = Annotated[
    str | None, typer.Option(help="Scenario ids and ranges, e.g. 1-10 (default: all).")
]
BenchmarkOpt = Annotated[str, typer.Option(help="Benchmark name or folder.")]
PerCharacterOpt = Annotated[
    int, typer.Option(help="Respondents per character; they share its scenarios.")
]
RespondentsOpt = Annotated[
    str,
    typer.Option(
        help="name:character pairs (a bare name is assigned a character); "
        "default: <character>-1, <character>-2, ..."
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        help="Answer limit (characters in Chinese, words in English; default: the benchmark's)."
    ),
]
MinLengthOpt = Annotated[int, typer.Option(help="Shortest accepted answer.")]
QuizOpt = Annotated[
    Path | None, typer.Option(help="Screening quiz (YAML, canon questions per character).")
]
SimAttemptsOpt = Annotated[int, typer.Option(help="Simulator attempts when a turn is rejected.")]
SimTimeoutOpt = Annotated[float, typer.Option(help="Seconds per simulator call.")]
SeedOpt = Annotated[int | None, typer.Option(help="Seed for dealing scenarios.")]


def create_study_cmd(
    name: NameOpt,
    user_sim: UserSimOpt,
    characters: CharactersOpt,
    scenarios: ScenariosOpt = None,
    benchmark: BenchmarkOpt = "chatanime",
    respondents_per_character: PerCharacterOpt = 1,
    respondents: RespondentsOpt = "",
    limit: LimitOpt = None,
    min_length: MinLengthOpt = 5,
    quiz: QuizOpt = None,
    user_sim_attempts: SimAttemptsOpt = 3,
    user_sim_timeout: SimTimeoutOpt = 30.0,
    seed: SeedOpt = None,
    store: StoreOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE,
) -> None:
    """Create a collection study and print each respondent's secret link once."""
    from chatanime.annotate.collect_study import create_collection
    from chatanime.annotate.study_specs import collection_spec

    spec = collection_spec(
        benchmark,
        name=name,
        user_sim=user_sim,
        characters=characters,
        scenarios=scenarios,
        respondents=respondents,
        per_character=respondents_per_character,
        limit=limit,
        min_length=min_length,
        quiz=quiz,
        user_sim_attempts=user_sim_attempts,
        user_sim_timeout=user_sim_timeout,
        seed=seed,
    )
    _print_created(create_collection(web_app_store(store), spec), spec, base_url)


def _print_created(created: CreatedCollection, spec: CollectSpec, base_url: str) -> None:
    """The new study, its respondent links and admin token: the only time tokens are shown."""
    console.print(
        f"Collection study [bold]{created.name}[/] ({created.study_id}): "
        f"{len(created.invites)} respondents, {created.n_dialogues} dialogues, "
        f"limit {spec.answer_limit}, user simulator {spec.simulator.model}.",
        soft_wrap=True,
    )
    _print_links(created.invites, base_url)
    console.print(
        f"Admin: {base_url.rstrip('/')}/admin  token: [bold]{created.admin_token}[/]\n"
        "[yellow]Tokens are stored hashed and shown only now; "
        "`chatanime collect links` issues new ones.[/]",
        soft_wrap=True,
    )


def _print_links(invites: Any, base_url: str) -> None:
    """One plain line per respondent, never wrapped, so a link can be copied whole."""
    console.print("Respondent links (secret: send each to its respondent only):")
    for invite in invites:
        console.print(
            f"  {invite.respondent}\t{invite.character}\t{invite.url(base_url)}", soft_wrap=True
        )


def serve_cmd(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark cookies Secure (when served over HTTPS).")
    ] = False,
    user_sim_base_url: Annotated[
        str | None,
        typer.Option(help="Base URL of the simulator's provider (else its preset / env)."),
    ] = None,
    language: Annotated[str, typer.Option(help="Language of pages outside a study.")] = "zh",
) -> None:
    """Serve the web app (collection and rating studies of the store)."""
    import chatanime.annotate  # noqa: F401
    from chatanime.annotate.app import serve

    serve(
        store,
        host=host,
        port=port,
        secure_cookies=secure_cookies,
        language=language,
        sim_base_url=user_sim_base_url,
    )


def export_cmd(
    study: StudyOpt,
    out: Annotated[
        Path, typer.Option("--out", help="fans-2026.json (release shape) or .jsonl (+ metadata).")
    ],
    store: StoreOpt = None,
) -> None:
    """Export finished dialogues as a system file (its name is the file's stem)."""
    from chatanime.annotate.collect_export import export_collection

    result = export_collection(web_app_store(store), study, out)
    console.print(
        f"{result.dialogues} dialogues of system [bold]{result.system}[/] -> {out}", soft_wrap=True
    )


def links_cmd(
    study: StudyOpt,
    respondents: Annotated[
        str, typer.Option(help="Comma-separated respondents (default: all).")
    ] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Also issue a new admin token.")] = False,
    store: StoreOpt = None,
    base_url: BaseUrlOpt = DEFAULT_BASE,
) -> None:
    """Issue new respondent links (old ones stop working): tokens are stored hashed."""
    from chatanime.annotate.collect_study import (
        rotate_collection_admin_token,
        rotate_respondent_links,
    )

    opened = web_app_store(store)
    _print_links(rotate_respondent_links(opened, study, comma_list(respondents)), base_url)
    if admin:
        console.print(f"Admin token: [bold]{rotate_collection_admin_token(opened, study)}[/]")


def status_cmd(study: StudyOpt, store: StoreOpt = None) -> None:
    """Progress per respondent: quiz, finished dialogues, simulator failures."""
    from chatanime.annotate.collect_progress import collection_progress

    progress = collection_progress(web_app_store(store), study)
    table = Table(title=f"{progress.name}: {progress.finished}/{progress.total} dialogues")
    for col in ("respondent", "id", "character", "quiz", "done", "total", "sim failures", "last"):
        table.add_column(col)
    for row in progress.rows:
        quiz = "—" if row.quiz_score is None else f"{row.quiz_score}{' ✓' if row.passed else ' ✗'}"
        table.add_row(
            row.name,
            row.id,
            row.character,
            quiz,
            str(row.done),
            str(row.total),
            str(row.failures),
            row.last or "—",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    collect_app = typer.Typer(
        help="Collect human role-play answers: fans write both rounds as their character.",
        no_args_is_help=True,
    )
    collect_app.command("create-study")(create_study_cmd)
    collect_app.command("serve")(serve_cmd)
    collect_app.command("export")(export_cmd)
    collect_app.command("links")(links_cmd)
    collect_app.command("status")(status_cmd)
    app.add_typer(collect_app, name="collect")
