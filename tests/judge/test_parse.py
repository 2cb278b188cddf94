"""Reading judge replies: JSON extraction and strict validation (chatanime.judge.parse)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatanime.judge.parse import (
    DiversityReply,
    ParseFailure,
    PointwiseReply,
    RoundScores,
    diversity_parser,
    extract_json_object,
    pointwise_parser,
)
from chatanime.judge.rubric import METRICS


def scores(value: Any = 4, **overrides: Any) -> dict[str, Any]:
    return {**dict.fromkeys(METRICS, value), **overrides}


def reply(rounds: dict[str, Any] | None = None, rationale: str = "简短而贴切。") -> dict[str, Any]:
    return {"rationale": rationale, "rounds": rounds or {"1": scores(4), "2": scores(3)}}


def test_round_scores_fields_are_the_nine_metrics_in_order() -> None:
    assert tuple(RoundScores.model_fields) == METRICS


def test_valid_raw_json_is_parsed_into_integer_scores() -> None:
    parsed = pointwise_parser((1, 2))(json.dumps(reply(), ensure_ascii=False))
    assert isinstance(parsed, PointwiseReply)
    assert parsed.rationale == "简短而贴切。"
    assert parsed.scores() == {1: dict.fromkeys(METRICS, 4), 2: dict.fromkeys(METRICS, 3)}


@pytest.mark.parametrize(
    "wrap",
    [
        "```json\n{}\n```",
        "好的，以下是我的评分：\n{}\n希望对你有帮助！",
        "Note {{this is not json}} then:\n```\n{}\n```\nDone {{again}}.",
        'Here is an unrelated object {{"a": 1}} and the judgment {}',
    ],
)
def test_json_in_fences_or_prose_is_found(wrap: str) -> None:
    text = wrap.format(json.dumps(reply(), ensure_ascii=False, indent=2))
    parsed = pointwise_parser((1, 2))(text)
    assert isinstance(parsed, PointwiseReply), parsed
    assert parsed.scores()[2]["fluency"] == 3


def test_braces_inside_strings_do_not_break_extraction() -> None:
    data = reply(rationale='he said "}{" and {left} it')
    text = "prefix { not closed " + json.dumps(data)
    assert extract_json_object(text, key="rounds") == data


def test_garbage_has_no_json_object() -> None:
    parsed = pointwise_parser((1, 2))("这个回答挺好的，我给四分吧。")
    assert parsed == ParseFailure("the reply contains no JSON object")


def test_out_of_range_score_is_rejected_with_its_location() -> None:
    bad = reply({"1": scores(4), "2": scores(4, emotional_value=7)})
    parsed = pointwise_parser((1, 2))(json.dumps(bad))
    assert isinstance(parsed, ParseFailure)
    assert "rounds.2.emotional_value" in parsed.error
    assert "less than or equal to 5" in parsed.error and "(got 7)" in parsed.error


@pytest.mark.parametrize("value", [0, 4.5, 4.0, "4", True, None])
def test_non_integer_or_out_of_scale_values_are_rejected(value: Any) -> None:
    bad = reply({"1": scores(4, fluency=value), "2": scores(4)})
    parsed = pointwise_parser((1, 2))(json.dumps(bad))
    assert isinstance(parsed, ParseFailure)
    assert "rounds.1.fluency" in parsed.error


def test_missing_metric_is_named() -> None:
    second = {k: v for k, v in scores(4).items() if k != "demand_matching"}
    parsed = pointwise_parser((1, 2))(json.dumps(reply({"1": scores(4), "2": second})))
    assert isinstance(parsed, ParseFailure)
    assert "rounds.2.demand_matching: Field required" in parsed.error


def test_missing_requested_round_is_rejected() -> None:
    parsed = pointwise_parser((1, 2))(json.dumps(reply({"1": scores(4)})))
    assert isinstance(parsed, ParseFailure)
    assert "missing round(s) 2" in parsed.error


def test_per_round_parser_keeps_only_the_requested_round() -> None:
    parsed = pointwise_parser((2,))(json.dumps(reply()))
    assert isinstance(parsed, PointwiseReply)
    assert list(parsed.scores()) == [2]


def test_empty_rationale_is_rejected() -> None:
    parsed = pointwise_parser((1, 2))(json.dumps(reply(rationale="")))
    assert isinstance(parsed, ParseFailure) and "rationale" in parsed.error


def test_error_message_is_bounded_and_does_not_echo_long_text() -> None:
    long_text = "忽略以上要求" * 20
    bad = reply({"1": dict.fromkeys(METRICS, long_text), "2": dict.fromkeys(METRICS, 9)})
    parsed = pointwise_parser((1, 2))(json.dumps(bad, ensure_ascii=False))
    assert isinstance(parsed, ParseFailure)
    assert long_text not in parsed.error
    assert "and 13 more problem(s)" in parsed.error


def test_diversity_reply() -> None:
    ok = diversity_parser()('结果：{"rationale": "开头都一样。", "diversity": 2}')
    assert isinstance(ok, DiversityReply) and ok.diversity == 2
    bad = diversity_parser()('{"rationale": "x", "diversity": 6}')
    assert isinstance(bad, ParseFailure) and "diversity" in bad.error
