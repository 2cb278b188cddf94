"""Style control on real answers with scores that depend on length only (a planted bias)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chatanime.corpus import Corpus
from chatanime.metrics.style import FEATURE_NAMES, style_controlled, style_features
from chatanime.report.scores import METRICS, ScoreRow, frame
from chatanime.report.style_control import (
    answer_features,
    item_features,
    style_control,
    system_style,
)

SOURCE = "judge:length-lover"
EFFECT = 0.8


@pytest.fixture(scope="module")
def features(small_corpus: Corpus) -> pd.DataFrame:
    return item_features(answer_features(small_corpus.answers()))


def length_biased_scores(features: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every metric = 3 + EFFECT * z(item length) + small noise: no system effect at all."""
    rng = np.random.default_rng(seed)
    z = (features["length"] - features["length"].mean()) / features["length"].std(ddof=0)
    rows = []
    for (system, character, scenario), zi in zip(
        features[["system", "character", "scenario"]].itertuples(index=False), z, strict=True
    ):
        for m in METRICS:
            value = 3.0 + EFFECT * zi + rng.normal(0, 0.05)
            rows.append(ScoreRow(SOURCE, system, character, int(scenario), 0, m, float(value)))
    return frame(rows)


def test_item_features_average_the_two_answers(
    small_corpus: Corpus, features: pd.DataFrame
) -> None:
    d = small_corpus.get("human", "luffy", 1)
    assert d is not None
    one, two = style_features(d.a1), style_features(d.a2)
    row = features[
        (features.system == "human") & (features.character == "luffy") & (features.scenario == 1)
    ].iloc[0]
    for name in FEATURE_NAMES:
        assert row[name] == pytest.approx((one[name] + two[name]) / 2)
    assert len(features) == len(small_corpus.dialogues)


def test_system_style_means_per_answer(small_corpus: Corpus) -> None:
    per_answer = answer_features(small_corpus.answers())
    means = system_style(per_answer)
    human = [len("".join(a.text.split())) for a in small_corpus.answers() if a.system == "human"]
    assert means.loc["human", "length"] == pytest.approx(np.mean(human))


def test_style_control_removes_a_pure_length_bias(features: pd.DataFrame) -> None:
    scores = length_biased_scores(features)
    sc = style_control(scores, SOURCE, features)
    assert not sc.failures
    res = sc.results["overall"]
    length = next(f for f in res.features if f.name == "length")
    assert length.coef == pytest.approx(EFFECT, abs=0.03)
    assert length.lo > 0
    raw = np.array([s.raw_mean for s in res.systems])
    adjusted = np.array([s.adjusted_mean for s in res.systems])
    assert raw.max() - raw.min() > 0.5  # raw scores reward the long-winded systems
    assert adjusted.max() - adjusted.min() < 0.1  # controlled, they are all alike
    assert res.reference_system == "human"
    # the longest-answering system loses its raw lead
    longest = features.groupby("system")["length"].mean().idxmax()
    assert sc.rank_shifts()[longest] > 0


def test_style_control_equals_a_direct_regression(features: pd.DataFrame) -> None:
    scores = length_biased_scores(features, seed=3)
    sc = style_control(scores, SOURCE, features, levels=["fluency"])
    assert set(sc.results) == {"fluency"}
    sub = scores[scores.metric == "fluency"].merge(features, on=["system", "character", "scenario"])
    direct = style_controlled(
        sub["value"].to_numpy(),
        sub["system"].tolist(),
        {n: sub[n].to_numpy() for n in FEATURE_NAMES},
        reference_system="human",
    )
    got = {s.system: s.adjusted_mean for s in sc.results["fluency"].systems}
    for s in direct.systems:
        assert got[s.system] == pytest.approx(s.adjusted_mean, abs=1e-9)


def test_a_single_system_cannot_be_controlled(features: pd.DataFrame) -> None:
    scores = length_biased_scores(features)
    only = scores[scores.system == "human"]
    sc = style_control(only, SOURCE, features, levels=["overall"])
    assert sc.results == {} and "fewer than two systems" in sc.failures["overall"]
