"""The main job as a library call: load the corpus, open the store, build and write the report.

``chatanime report`` is a thin wrapper around :func:`make_report`. The store is optional: with
no ``--store`` / ``CHATANIME_STORE`` and no store file in the user data directory yet (a fresh
machine), the report is built from the release alone and nothing is created on disk except
the report itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from chatanime.corpus import load_corpus
from chatanime.errors import DataError
from chatanime.report.build import Report, build_report
from chatanime.store import Store, default_store_url, open_store
from chatanime.store.engine import STORE_ENV

Format = Literal["html", "md", "csv", "json", "terminal"]
FORMATS: tuple[str, ...] = ("html", "md", "csv", "json", "terminal")
SUFFIX = {"html": "html", "md": "md", "csv": "csv", "json": "json"}


def default_out(fmt: str) -> Path:
    """``out/report.<ext>`` for file formats."""
    return Path("out") / f"report.{SUFFIX[fmt]}"


def report_store(url: str | None) -> Store | None:
    """The store to read scores from, or ``None`` when none exists yet (fresh machine)."""
    if url is None and not os.environ.get(STORE_ENV):
        default = default_store_url()
        path = default.split(":///", 1)[-1]
        if default.startswith("sqlite") and not Path(path).exists():
            return None
        url = default
    try:
        return open_store(url)
    except SQLAlchemyError as exc:
        raise DataError(
            f"cannot open the store {url or '(default)'}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (``html``, ``md``, ``csv`` or ``json``)."""
    if fmt == "html":
        from chatanime.report.html import render_html

        return render_html(report)
    if fmt == "md":
        from chatanime.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "csv":
        from chatanime.report.tabular import render_csv

        return render_csv(report)
    if fmt == "json":
        from chatanime.report.tabular import render_json

        return render_json(report)
    raise DataError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_report(report: Report, fmt: str, out: Path | None = None) -> Path:
    """Render and write the report; returns the path written."""
    path = out or default_out(fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    # CSV gets a BOM so spreadsheet programs read the UTF-8 (Chinese names) correctly.
    path.write_text(render(report, fmt), encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    return path


def parse_pair(text: str) -> tuple[str, str]:
    """``gpt-4.1:deepseek-v3`` -> ("gpt-4.1", "deepseek-v3")."""
    first, sep, second = text.partition(":")
    if not sep or not first or not second or first == second:
        raise DataError(f"--compare {text!r}: expected two different systems as A:B")
    return first, second


def make_report(
    *,
    data: Path | None = None,
    extra: Sequence[Path] = (),
    benchmark: str = "chatanime",
    store_url: str | None = None,
    judges: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    compare: Sequence[str] = (),
) -> Report:
    """Find (or download) the release, read whatever scores exist, build the report.

    ``compare`` holds ``A:B`` pairs of systems to test against each other (besides each
    system against the fans)."""
    if n_boot < 1:
        raise DataError(f"--n-boot must be at least 1, got {n_boot}")
    pairs = [parse_pair(text) for text in compare]
    corpus = load_corpus(data, extra=list(extra), benchmark=benchmark)
    store = report_store(store_url)
    try:
        return build_report(
            corpus, store, judges=judges or None, n_boot=n_boot, seed=seed, pairs=pairs
        )
    finally:
        if store is not None:
            store.dispose()
