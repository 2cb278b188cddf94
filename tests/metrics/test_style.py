"""Style features on hand-checked answers, and style control on synthetic data with a known
truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chatanime.metrics.style import (
    FEATURE_NAMES,
    feature_table,
    style_controlled,
    style_features,
)

# --- style_features ---------------------------------------------------------------------------


def test_chinese_answer_features() -> None:
    text = "别担心～我会一直陪着你的！你今天吃饭了吗？？(｡･ω･｡)"
    assert style_features(text) == {
        "length": 29.0,
        "sentences": 2.0,
        "questions": 1.0,  # "？？" is one run
        "exclamations": 1.0,
        "emoji": 1.0,
        "tildes": 1.0,
    }


def test_emoji_sequences_count_once() -> None:
    # family ZWJ sequence, a flag, heart + variation selector, a thumbs-up with skin tone
    feats = style_features("👨\u200d👩\u200d👧 🇨🇳 ❤️ 👍🏻 好的")
    assert feats["emoji"] == 4.0


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ("加油(^_^)", 1),
        ("T_T 好难过 QAQ", 2),
        ("(T_T)", 1),  # letters inside: caught as a bare face, not twice
        ("没关系的(๑•̀ㅂ•́)و✧", 1),  # arm and sparkle belong to the face
        ("（＾▽＾）我在呢", 1),
        ("（拍拍你的肩膀）没关系", 0),  # a stage direction, not a face
        ("第(1)点和第(2)点", 0),
        ("比分是3:2", 0),
    ],
)
def test_kaomoji_detection(text: str, emoji: int) -> None:
    assert style_features(text)["emoji"] == emoji


def test_punctuation_inside_a_kaomoji_is_not_counted() -> None:
    feats = style_features("好呀(≧▽≦!)")
    assert feats["emoji"] == 1 and feats["exclamations"] == 0


def test_half_and_full_width_tildes_count_the_same() -> None:
    # the release's LLM files write "~" where human.json writes "～"
    assert style_features("好的~明天见~~") == style_features("好的～明天见～～")
    assert style_features("好的~明天见~~")["tildes"] == 2.0


def test_sentences_treat_ellipsis_as_a_pause() -> None:
    assert style_features("真的……我懂你。嗯...慢慢来吧")["sentences"] == 2.0
    assert style_features("第一行\n第二行")["sentences"] == 2.0
    assert style_features("😊")["sentences"] == 0.0


def test_english_counts_words_and_sentences() -> None:
    feats = style_features("Don't worry! You did great... Really. What's next?", "en")
    assert feats["length"] == 8.0
    assert feats["sentences"] == 3.0
    assert (feats["questions"], feats["exclamations"]) == (1.0, 1.0)
    assert style_features("It costs 3.5 dollars.", "en")["sentences"] == 1.0


def test_unsupported_language() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        style_features("hello", "fr")  # type: ignore[arg-type]


def test_feature_table_columns() -> None:
    table = feature_table(["你好！", "在吗？在吗？"])
    assert tuple(table) == FEATURE_NAMES
    np.testing.assert_array_equal(table["questions"], [0.0, 2.0])
    np.testing.assert_array_equal(table["length"], [3.0, 6.0])


# --- style_controlled -------------------------------------------------------------------------

TRUTH = {"a": 3.0, "b": 3.2, "c": 3.4, "d": 3.6}
MEAN_LENGTH = {"a": 120.0, "b": 95.0, "c": 70.0, "d": 45.0}  # worst system talks the most
SLOPE = 0.02


def _synthetic(seed: int = 0, n_per: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    systems = np.repeat(list(TRUTH), n_per)
    length = np.array([rng.normal(MEAN_LENGTH[s], 15.0) for s in systems])
    noise = rng.normal(0, 0.5, systems.size)
    scores = np.array([TRUTH[s] for s in systems]) + SLOPE * length + noise
    return scores, systems, length


def test_style_control_recovers_the_true_ranking_and_slope() -> None:
    scores, systems, length = _synthetic()
    noise_feature = np.random.default_rng(9).normal(size=scores.size)
    result = style_controlled(scores, list(systems), {"length": length, "noise": noise_feature})
    by_name = {e.system: e for e in result.systems}
    assert [by_name[s].raw_rank for s in "abcd"] == [1, 2, 3, 4]  # raw ranking is wrong
    assert [by_name[s].adjusted_rank for s in "abcd"] == [4, 3, 2, 1]  # truth recovered
    length_effect, noise_effect = result.features
    assert length_effect.per_unit == pytest.approx(SLOPE, abs=0.002)
    assert length_effect.sd == pytest.approx(length.std())
    assert noise_effect.lo < 0 < noise_effect.hi  # an irrelevant feature is not "significant"
    average_length = length.mean()
    for name, effect in by_name.items():
        assert effect.lo < TRUTH[name] + SLOPE * average_length < effect.hi
        assert effect.raw_mean == pytest.approx(scores[systems == name].mean())
    assert result.residual_sd == pytest.approx(0.5, rel=0.1)


def test_without_features_adjusted_means_are_raw_means_with_pooled_se() -> None:
    scores, systems, _ = _synthetic(n_per=50)
    result = style_controlled(scores, list(systems), {}, reference_system="a")
    resid = scores - np.array([scores[systems == s].mean() for s in systems])
    pooled_sd = math.sqrt((resid**2).sum() / (scores.size - 4))
    for e in result.systems:
        assert e.adjusted_mean == pytest.approx(e.raw_mean)
        assert e.se == pytest.approx(pooled_sd / math.sqrt(50))
        assert e.vs_reference == pytest.approx(e.raw_mean - result.systems[0].raw_mean)
    # difference of two independent cell means
    assert result.systems[1].vs_reference_se == pytest.approx(pooled_sd * math.sqrt(2 / 50))
    assert result.systems[0].vs_reference_se == pytest.approx(0.0, abs=1e-12)


def test_missing_scores_and_constant_features() -> None:
    scores, systems, length = _synthetic(n_per=40)
    scores[:5] = np.nan
    result = style_controlled(
        scores, list(systems), {"length": length, "always_one": np.ones(scores.size)}
    )
    assert (result.n, result.n_missing) == (scores.size - 5, 5)
    assert result.dropped_features == ("always_one",)
    assert [f.name for f in result.features] == ["length"]
    assert math.isnan(result.systems[0].vs_reference)


def test_style_confounded_with_system_is_rejected() -> None:
    scores, systems, _ = _synthetic(n_per=20)
    per_system_constant = np.array([MEAN_LENGTH[s] for s in systems])
    with pytest.raises(ValueError, match="cannot be separated"):
        style_controlled(scores, list(systems), {"length": per_system_constant})


def test_style_controlled_rejects_bad_input() -> None:
    scores, systems, length = _synthetic(n_per=10)
    with pytest.raises(ValueError, match="reference system"):
        style_controlled(scores, list(systems), {"length": length}, reference_system="zzz")
    with pytest.raises(ValueError, match="one value per score"):
        style_controlled(scores, list(systems), {"length": length[:-1]})
    with pytest.raises(ValueError, match="equal length"):
        style_controlled(scores, list(systems)[:-1], {"length": length})
    bad = length.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        style_controlled(scores, list(systems), {"length": bad})
