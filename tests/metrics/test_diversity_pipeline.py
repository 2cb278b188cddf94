"""The diversity pipeline: every metric for every grouping in one pass, equal to the metrics
computed group by group."""

from __future__ import annotations

import numpy as np
import pytest

from chatanime.metrics.diversity_measures import (
    WINDOWS,
    compression_ratio,
    distinct_n,
    distinct_n_equal_size,
    mattr,
)
from chatanime.metrics.diversity_pipeline import AnswerGroups, StageClock, compute_metrics
from chatanime.metrics.selfbleu import self_bleu_naive
from chatanime.metrics.tokens import char_tokens

TEXTS = [
    "别担心，加油！",
    "别担心，加油！",
    "我会陪着你。",
    "今天的风很温柔呢",
    "一起去看海吧！",
    "哈哈哈",
]
GROUPS = AnswerGroups("character", np.array([0, 0, 0, 1, 1, 1]), [("a", "c0"), ("a", "c1")])
MEMBERS = [TEXTS[:3], TEXTS[3:]]


def test_every_metric_of_every_group_equals_the_one_group_functions() -> None:
    values, sizes = compute_metrics(TEXTS, [GROUPS], "zh", ("char",), 1, {}, StageClock())
    for g, group in enumerate(MEMBERS):
        assert values["character", "distinct_2_char"][g] == pytest.approx(distinct_n(group, 2))
        assert values["character", "mattr_char"][g] == pytest.approx(mattr(group, WINDOWS["char"]))
        assert values["character", "compression"][g] == pytest.approx(compression_ratio(group))
        naive = np.mean(self_bleu_naive([char_tokens(t) for t in group]))
        assert values["character", "self_bleu_char"][g] == pytest.approx(naive)
    # K of the equal-size metric is the smaller group's trigram count: 6 + 5 + 1 in group 1
    k = sizes["character", "distinct_3_char_eq"]
    assert k == 12 == min(sum(len(t) - 2 for t in group) for group in MEMBERS)
    assert values["character", "distinct_3_char_eq"][0] == pytest.approx(
        distinct_n_equal_size(MEMBERS[0], 3, k)
    )


def test_windows_override_the_mattr_window_and_the_clock_records_each_stage() -> None:
    clock = StageClock()
    values, _ = compute_metrics(TEXTS, [GROUPS], "zh", ("char",), 1, {"char": 3}, clock)
    assert values["character", "mattr_char"][1] == pytest.approx(mattr(MEMBERS[1], 3))
    assert values["character", "mattr_char"][1] != pytest.approx(mattr(MEMBERS[1]))
    assert list(clock.laps) == ["start workers", "tokens char", "metrics char", "compression"]
    assert set(clock.cpu) == set(clock.laps)
