"""Judge scores read back from stored rows, sources kept apart."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from chatanime.report.scores import METRICS, judge_scores, source_labels, with_ensemble
from chatanime.store import open_store
from chatanime.store import schema as t

NOW = "2026-01-01T00:00:00"


def _judgment(jid: str, model: str, status: str, scenario: int, **extra: str) -> dict[str, object]:
    row: dict[str, object] = {
        "id": jid,
        "run_id": "r1",
        "mode": "pointwise",
        "judge_model": model,
        "prompt_ref": "judge.zh@v1#aaaaaaaaaaaa",
        "rubric_ref": "esrp.zh@v1#bbbbbbbbbbbb",
        "benchmark": "chatanime",
        "system": "human",
        "opponent": None,
        "order": None,
        "character": "luffy",
        "scenario": scenario,
        "status": status,
        "rationale": None,
        "raw_text": "garbage" if status != "scored" else None,
        "error": None,
        "created_at": NOW,
    }
    row.update(extra)
    return row


def test_scored_and_unscored_rows(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    with store.engine.begin() as conn:
        conn.execute(
            t.runs.insert().values(
                id="r1", kind="judge", name="j", created_at=NOW, updated_at=NOW, config_json="{}"
            )
        )
        conn.execute(
            t.judgments.insert(),
            [
                _judgment("j1", "fake/a", "scored", 1),
                _judgment("j2", "fake/a", "unscored", 2),
                _judgment("j3", "fake/b", "scored", 1),
                _judgment("j4", "fake/a", "scored", 3, mode="pairwise-vs-fans"),
            ],
        )
        conn.execute(
            t.scores.insert(),
            [
                {"judgment_id": jid, "round": r, "metric": m, "value": v}
                for jid, v in (("j1", 4.0), ("j3", 2.0))
                for r in (1, 2)
                for m in METRICS
            ],
        )
    df = judge_scores(store)
    assert set(df.source) == {"judge:fake/a", "judge:fake/b"}
    a = df[df.source == "judge:fake/a"]
    assert len(a[a.scenario == 1]) == 18 and (a[a.scenario == 1].value == 4.0).all()
    unscored = a[a.scenario == 2]
    assert len(unscored) == 9 and unscored.value.isna().all()
    assert 3 not in set(df.scenario)  # pairwise rows are not pointwise scores
    ens = with_ensemble(df)
    e = ens[(ens.source == "judge:ensemble") & (ens.scenario == 1)]
    assert len(e) == 9 and (e.value == 3.0).all()
    e2 = ens[(ens.source == "judge:ensemble") & (ens.scenario == 2)]
    assert e2.value.apply(math.isnan).all()


def test_versions_and_modes_become_separate_sources() -> None:
    labels = source_labels(
        {
            ("m", "pointwise", "judge.zh@v1#aaaaaaaaaaaa", "esrp.zh@v1#b"),
            ("m", "pointwise", "judge.zh@v2#cccccccccccc", "esrp.zh@v1#b"),
            ("m", "pointwise-round", "judge.zh@v1#aaaaaaaaaaaa", "esrp.zh@v1#b"),
        }
    )
    assert len(set(labels.values())) == 3
    assert labels[("m", "pointwise-round", "judge.zh@v1#aaaaaaaaaaaa", "esrp.zh@v1#b")] == (
        "judge:m [per-round]"
    )


def test_a_run_without_rubric_examples_never_takes_the_judges_plain_label() -> None:
    default = ("m", "pointwise", "judge.zh@v1#aaaaaaaaaaaa", "esrp.zh@v1#b")
    bare = ("m", "pointwise", "judge.zh@v1#aaaaaaaaaaaa", "esrp.zh@v1#b:no-examples")
    labels = source_labels({default, bare, ("n", "pointwise", "p", "r")})
    assert labels[default] == "judge:m"  # still the judge's own source, in the ensemble
    assert labels[bare] == "judge:m [no examples]"
    rows = [
        {"source": src, "system": "s", "character": "c", "scenario": 1, "round": 0}
        | {"metric": "fluency", "value": value}
        for src, value in (("judge:m", 4.0), ("judge:m [no examples]", 1.0), ("judge:n", 2.0))
    ]
    ens = with_ensemble(pd.DataFrame(rows))
    assert ens[ens.source == "judge:ensemble"].value.tolist() == [3.0]  # m and n, not bare
