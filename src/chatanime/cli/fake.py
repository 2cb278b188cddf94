"""``chatanime fake-server``: an offline OpenAI-compatible server for dry runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from chatanime.backends.fake_faults import FAULTS

console = Console()


def fake_server(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    latency_ms: Annotated[float, typer.Option(help="Delay before every reply.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Uniform +/- jitter on the latency.")] = 0.0,
    fault_rate: Annotated[float, typer.Option(help="Share of requests that fail (0..1).")] = 0.0,
    faults: Annotated[
        str, typer.Option(help=f"Comma-separated fault kinds to draw from: {', '.join(FAULTS)}.")
    ] = "429,500",
    seed: Annotated[int, typer.Option(help="Seed of the random faults.")] = 0,
    retry_after: Annotated[float, typer.Option(help="Retry-After seconds sent with 429.")] = 1.0,
    timeout_sleep: Annotated[
        float, typer.Option(help="Seconds a 'timeout' fault waits before answering.")
    ] = 30.0,
    api_key: Annotated[
        str | None, typer.Option(help="Require this bearer key (else any key is accepted).")
    ] = None,
    plugin: Annotated[
        list[str] | None, typer.Option(help="Module registering more fake behaviours; repeatable.")
    ] = None,
) -> None:
    """Serve fake models (fake/actor, fake/user-sim, fake/echo, ...) until Ctrl-C.

    Point the pipeline at it with CHATANIME_FAKE_URL or --base-url and model names
    like fake/actor; POST /_fake/script queues replies and faults, GET /_fake/stats counts.
    """
    from chatanime.backends.fake_server import FakeServerConfig, serve_forever

    try:
        config = FakeServerConfig(
            host=host,
            port=port,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            fault_rate=fault_rate,
            faults=tuple(kind.strip() for kind in faults.split(",") if kind.strip()),
            seed=seed,
            retry_after_s=retry_after,
            timeout_sleep_s=timeout_sleep,
            api_key=api_key,
            plugins=tuple(plugin or ()),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    def ready(url: str) -> None:
        console.print(f"fake server listening on [bold]{url}[/] (Ctrl-C to stop)", highlight=False)
        console.print(f"export CHATANIME_FAKE_URL={url}", highlight=False)

    serve_forever(config, on_ready=ready)


def register(app: typer.Typer) -> None:
    """Add the ``fake-server`` command to the root app."""
    app.command("fake-server")(fake_server)
