"""The report as Markdown: the leaderboard tables, diversity and overview, for READMEs and PRs.

Same numbers as the HTML page (all shapes come from :mod:`chatanime.report.views`), without
charts. Cells escape ``|`` so a system or character name cannot break a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chatanime.corpus import HUMAN
from chatanime.report.build import Report, SourceBoard
from chatanime.report.charts import fmt
from chatanime.report.labels import Labels
from chatanime.report.scores import DIMENSIONS, METRICS
from chatanime.report.views import (
    BoardRow,
    before_after,
    board_caption,
    board_rows,
    calibration_rows,
    comparison_matrix,
    comparison_text,
    diversity_rows,
    estimate_text,
    folds,
    headline_metrics,
    pair_rows,
    rank_text,
    style_rows,
)

LEVELS_SHOWN = ("overall", *DIMENSIONS)
COMPARED_LEVELS = (*LEVELS_SHOWN, *METRICS)  # paired tests cover every level and metric


def cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> list[str]:
    """A GitHub-flavoured Markdown table (first column left, the rest right-aligned)."""
    aligns = align or "l" + "r" * (len(header) - 1)
    sep = ["---" if a == "l" else "---:" for a in aligns]
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _board(report: Report, sb: SourceBoard) -> list[str]:
    """One score source's section: ranking, per-metric means, then the tests and style control.

    Each part is its own helper because each is optional (no fans, no pairs asked for, no
    style model) and a missing part must leave no empty heading behind.
    """
    out = [f"## Leaderboard — `{sb.source}`", ""]
    caption = board_caption(report, sb)
    if caption:
        out += [f"_{caption}_", ""]
    rows = board_rows(sb.board)
    out += _ranking(report.labels, rows, fans=HUMAN in sb.board.systems)
    out += _metric_means(report.labels, rows)
    out += _against_fans(report.labels, sb)
    out += _system_pairs(report.labels, sb)
    out += _style_control(sb)
    return out


def _ranking(labels: Labels, rows: Sequence[BoardRow], *, fans: bool) -> list[str]:
    """The ranked table with intervals; the "Δ vs fans" column only when the fans are here
    (without them there is nothing to compare with)."""
    header = ["Rank", "System", *(f"{labels.short[lvl]} [95% CI]" for lvl in LEVELS_SHOWN)]
    return table(
        [*header, "Items (unscored)", *(["Δ vs fans"] if fans else [])],
        (
            [
                r.rank_text,
                f"**{r.system}**" if r.system == HUMAN else r.system,
                *(estimate_text(r.cells.get(lvl)) for lvl in LEVELS_SHOWN),
                f"{r.n} ({r.n_missing})",
                *([comparison_text(r.vs_baseline)] if fans else []),
            ]
            for r in rows
        ),
    )


def _metric_means(labels: Labels, rows: Sequence[BoardRow]) -> list[str]:
    """Means per metric without intervals, so the nine metrics fit in one readable table."""
    out = ["### Per metric (means)", ""]
    out += table(
        ["System", *(labels.short[m] for m in METRICS)],
        (
            [r.system, *(fmt(e.mean) if (e := r.cells.get(m)) else "—" for m in METRICS)]
            for r in rows
        ),
    )
    return out


def _against_fans(labels: Labels, sb: SourceBoard) -> list[str]:
    """Each system minus the fans on matched items, Holm-corrected; nothing without fans."""
    comparisons = comparison_matrix(sb.board)
    if not comparisons:
        return []
    out = [
        "### Against the fans (system − human on matched items; Holm: * .05 ** .01 *** .001)",
        "",
    ]
    out += table(
        ["System", *(labels.short[lvl] for lvl in COMPARED_LEVELS)],
        (
            [c.system, *(comparison_text(c.cells.get(lvl)) for lvl in COMPARED_LEVELS)]
            for c in comparisons
        ),
    )
    return out


def _system_pairs(labels: Labels, sb: SourceBoard) -> list[str]:
    """The system-vs-system comparisons asked for with ``--compare``; nothing otherwise."""
    pairs = pair_rows(sb.board)
    if not pairs:
        return []
    out = ["### System against system (first − second on matched items; Holm)", ""]
    out += table(
        ["Pair", *(labels.short[lvl] for lvl in COMPARED_LEVELS)],
        (
            [
                f"{p.system} − {p.baseline}",
                *(comparison_text(p.cells.get(lvl)) for lvl in COMPARED_LEVELS),
            ]
            for p in pairs
        ),
    )
    return out


def _style_control(sb: SourceBoard) -> list[str]:
    """Raw against style-controlled ranks, then the style coefficients that explain the gap."""
    style = style_rows(sb)
    if not style:
        return []
    out = ["### Style-controlled ranking (overall)", ""]
    out += table(
        ["System", "Raw", "Raw rank", "Controlled [95% CI]", "Controlled rank"],
        (
            [
                s.system,
                fmt(s.raw_mean),
                rank_text(s.raw_rank),
                f"{fmt(s.adjusted_mean)} [{fmt(s.lo)}, {fmt(s.hi)}]",
                rank_text(s.adjusted_rank),
            ]
            for s in style
        ),
    )
    res = sb.style.results["overall"] if sb.style else None
    if res is not None:
        out += table(
            ["Style feature", "Coefficient per SD [95% CI]", "Per unit"],
            (
                [f.name, f"{f.coef:+.3f} [{f.lo:+.3f}, {f.hi:+.3f}]", f"{f.per_unit:+.4f}"]
                for f in res.features
            ),
        )
    return out


def _pairwise(report: Report) -> list[str]:
    if report.pairwise is None:
        return []
    out = ["## Each system against the fans (pairwise judge, both orders combined)", ""]
    out += table(
        ["Judge", "System", "Dimension", "Win", "Tie", "Loss", "Net [95% CI]", "Flip", "Items"],
        (
            [
                c.judge,
                c.system,
                c.dimension,
                f"{c.win.mean:.0%}",
                f"{c.tie.mean:.0%}",
                f"{c.loss.mean:.0%}",
                estimate_text(c.net),
                f"{c.flip_share.mean:.0%}",
                c.n_items,
            ]
            for c in report.pairwise.cells
        ),
        align="lllrrrrrr",
    )
    return out


def _judge_checks(report: Report) -> list[str]:
    out: list[str] = []
    if report.bias is not None and report.bias.judges:
        out += ["## Judge bias checks", ""]
        rows = []
        for jb in report.bias.judges:
            overall = jb.length.get("overall")
            sp = jb.self_preference
            rows.append(
                [
                    jb.judge,
                    jb.judgments,
                    f"{jb.unscored} ({jb.unscored_share:.0%})",
                    fmt(overall.rho) if overall and overall.rho is not None else "—",
                    f"{sp.family}: {sp.gap:+.2f}" if sp else "—",
                    f"{sp.net_gap:+.2f}" if sp and sp.net_gap is not None else "—",
                ]
            )
        out += table(
            ["Judge", "Judgments", "Unscored", "Length ρ", "Own family − others", "Net of others"],
            rows,
        )
    for d in report.judged_diversity:
        out += [f"## LLM-judged diversity (`{d.source}`)", ""]
        out += table(
            ["System", "Mean [95% CI]", "Rank"],
            ([s, estimate_text(d.estimates[s]), rank_text(d.ranks[s].rank)] for s in d.systems),
        )
    return out


def _calibration(report: Report) -> list[str]:
    if not report.calibrations:
        return []
    out = [
        "## Judge calibration on human ratings",
        "",
        "Per metric, a monotone map from the judge's item scores to the mean human rating, "
        "fitted on a study's rated items and applied to the items it did not rate (source "
        "`judge:<model>:calibrated`). Before → after are cross-validated (held-out folds); "
        "MAE: lower is better.",
        "",
    ]
    for c in report.calibrations:
        out += [f"### `{c.judge}` on study “{c.study}”", "", c.result.message, ""]
        rows = calibration_rows(c)
        if rows:
            out += table(
                ["Metric", "Rated pairs", "MAE", "Spearman", "Pearson", "Applied to", "Note"],
                (
                    [
                        report.labels.short.get(r.metric, r.metric),
                        r.n_pairs,
                        before_after(r.mae),
                        before_after(r.spearman),
                        before_after(r.pearson),
                        r.n_applied if r.calibrated else "—",
                        r.note,
                    ]
                    for r in rows
                ),
                align="lrrrrrl",
            )
            k = folds(c)
            if k:
                out += [f"{k}-fold cross-validation over the rated items.", ""]
        out += [f"Audit the judge on the same ratings: `{c.audit_command}`", ""]
    return out


def _diversity(report: Report) -> list[str]:
    table_ = report.diversity
    out = ["## Automatic response diversity (`automatic:diversity`)", ""]
    if table_ is None:
        return [*out, "_Not available (see the notes)._", ""]
    metrics, rows, first, _ = diversity_rows(table_, "character")
    shown = headline_metrics(table_)
    labels = {m.id: m.label for m in table_.metrics}
    if first:
        wins = sum(first.values())
        out += [
            f"Grouping per system × character. The fans are more diverse than every other "
            f"system on **{wins} of {len(first)}** metrics.",
            "",
        ]
    body = [[s, *(fmt(vals[m], 3) for m in shown)] for s, vals in rows]
    if first:
        body.append(["fans first?", *("✓" if first.get(m) else "✗" for m in shown)])
    out += table(["System", *(labels[m] for m in shown)], body)
    rest = [m for m in metrics if m not in shown]
    if rest:
        out += ["All metrics are in the CSV/JSON outputs.", ""]
    return out


def _overview(report: Report) -> list[str]:
    ov = report.overview
    out = [f"## Corpus overview (`{ov.benchmark_ref}`)", "", f"Lengths in {ov.length_unit}.", ""]
    out += table(
        [
            "System",
            "Dialogues",
            "Mean length R1",
            "R2",
            "Longest",
            f"≤{ov.answer_limit}",
            "Questions/answer",
            "Exclamations/answer",
        ],
        (
            [
                o.summary.system,
                o.summary.dialogues,
                fmt(o.summary.mean_len_r1, 1),
                fmt(o.summary.mean_len_r2, 1),
                o.summary.max_len,
                f"{o.summary.within_limit}/{o.summary.answers}",
                fmt(o.style.get("questions", float("nan"))),
                fmt(o.style.get("exclamations", float("nan"))),
            ]
            for o in ov.systems
        ),
    )
    return out


def render_markdown(report: Report) -> str:
    """The report as one Markdown document."""
    out = [f"# {report.title}", ""]
    sources = ", ".join(f"`{b.source}`" for b in report.boards) or "none yet"
    out += [
        f"{len(report.systems)} systems · benchmark `{report.overview.benchmark_ref}` · "
        f"chatanime {report.version} · {report.generated_at}. Score sources: {sources}; "
        f"intervals: 95% cluster bootstrap over characters and scenarios ({report.n_boot} "
        "replicates); ranks are tied (`=`) where intervals overlap.",
        "",
    ]
    for n in report.notes:
        cmds = " ".join(f"`{c}`" for c in n.commands)
        out += [f"> **{n.kind}:** {n.text}" + (f" {cmds}" if cmds else ""), ""]
    for sb in report.boards:
        out += _board(report, sb)
    out += _pairwise(report)
    out += _judge_checks(report)
    out += _calibration(report)
    out += _diversity(report)
    out += _overview(report)
    return "\n".join(out).rstrip() + "\n"
