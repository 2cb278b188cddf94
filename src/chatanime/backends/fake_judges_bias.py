"""Fake judges with planted biases of known size, for the judge audit's end-to-end tests.

The audit (:mod:`chatanime.judge.audit`) must *detect and size* a judge's biases. To test
that offline, these judges score against a hidden truth that a test can compute too
(:func:`hidden_truth`, a hash of the answer text: 2, 3 or 4 per metric), and then add one
planted distortion each:

- ``fake/judge-fair``: the truth, nothing else (the audit must find nothing).
- ``fake/judge-length`` (in :mod:`chatanime.backends.fake_judges`): +1 per 50 characters.
- ``fake/judge-anti-casual``: -1 on the basic-dialogue metrics (fluency, coherency,
  consistency) for an answer in casual register (no sentence-final punctuation). A judge
  never sees who wrote an answer, so a bias against fans can only act through something
  visible in the text; a casual spoken register is one fans use far more than models, which
  is why the audit sees it as a bias against human-written answers of -1 on those metrics.
- ``fake/judge-self-<family>`` (e.g. ``judge-self-gpt``): +1 on every metric for an answer
  containing its family's verbal tic (:data:`FAMILY_TICS`). Real judges are thought to
  recognise their own family's text by its style; here the "style" is one marker phrase a
  test puts into the answers of that family's system. The audit learns the judge's family
  from the caller (``families={"fake/judge-self-gpt": "gpt"}``), since no name table knows it.
- ``fake/judge-lenient``: +1 on every metric for every answer: a scale-use bias, the kind
  a monotone calibration on human ratings removes (:mod:`chatanime.judge.calibrate`).
- ``fake/judge-position``: scores the truth pointwise, but in a pairwise request always
  prefers dialogue A on every dimension (flip share 1 when both orders are judged).
- ``fake/judge-pairwise``: a consistent pairwise judge (same as ``judge-fair``): per
  dimension, the dialogue with the higher summed truth wins, equal sums tie; the order of
  A and B changes nothing.

Every judge here answers both request kinds the project sends: pointwise (``<dialogue_json>``
holds one dialogue; the reply format of :mod:`chatanime.backends.fake_judges`) and pairwise
(the block holds ``{"A": ..., "B": ...}``; reply ``{"rationale", "verdicts"}``). Pairwise
verdicts of the non-position judges come from their pointwise scores, so their planted bias
shows in pairwise results too (e.g. the anti-casual judge prefers the polished dialogue).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from chatanime.backends.fake_behaviours import FakeRequest, is_chinese, register_behaviour
from chatanime.backends.fake_judges import (
    JudgeView,
    Scorer,
    clip_score,
    judge_view,
    plausible_diversity,
    reply,
)
from chatanime.judge.prompt import DIALOGUE_TAG, find_data_block
from chatanime.judge.rubric import DIMENSION_IDS, DIMENSION_METRICS, METRICS

TRUTH_LEVELS = (2, 3, 4)
"""Hidden truth values; kept inside 2..4 so a planted +-1 is never clipped away."""
SENTENCE_END = ("。", "！", "？", ".", "!", "?")
CASUAL_PENALTY = 1
CASUAL_METRICS = DIMENSION_METRICS["basic"]
SELF_BONUS = 1
FAMILY_TICS: Mapping[str, str] = {
    "gpt": "总而言之",
    "claude": "说到底",
    "deepseek": "换句话说",
    "qwen": "不妨",
    "glm": "总的来说",
}
"""Family -> the marker phrase its fake self-preferring judge recognises as its own."""

PairDecider = Callable[[JudgeView, JudgeView], dict[str, str]]
"""(view of A, view of B) -> dimension -> "A" | "B" | "tie"."""


def hidden_truth(answer: str) -> dict[str, int]:
    """The "true" quality of an answer per metric (2..4), from a hash of its text."""
    digest = hashlib.sha256(answer.strip().encode("utf-8")).digest()
    return {m: TRUTH_LEVELS[digest[i] % len(TRUTH_LEVELS)] for i, m in enumerate(METRICS)}


def truth_scores(view: JudgeView, round_: int) -> dict[str, int]:
    return hidden_truth(view.answer(round_))


def is_casual(answer: str) -> bool:
    """Casual register: the answer does not end with sentence-final punctuation."""
    return not answer.rstrip().endswith(SENTENCE_END)


def anti_casual_scores(view: JudgeView, round_: int) -> dict[str, int]:
    values = truth_scores(view, round_)
    if is_casual(view.answer(round_)):
        for metric in CASUAL_METRICS:
            values[metric] = clip_score(values[metric] - CASUAL_PENALTY)
    return values


def lenient_scores(view: JudgeView, round_: int) -> dict[str, int]:
    return {m: clip_score(v + 1) for m, v in truth_scores(view, round_).items()}


def self_scorer(family: str) -> Scorer:
    """Truth, +1 on every metric for an answer carrying ``family``'s tic."""
    tic = FAMILY_TICS.get(family)

    def score(view: JudgeView, round_: int) -> dict[str, int]:
        values = truth_scores(view, round_)
        if tic is not None and tic in view.answer(round_):
            values = {m: clip_score(v + SELF_BONUS) for m, v in values.items()}
        return values

    return score


def by_scores(scorer: Scorer) -> PairDecider:
    """Per dimension, the side whose scores (both rounds) sum higher; equal sums tie."""

    def decide(a: JudgeView, b: JudgeView) -> dict[str, str]:
        def total(view: JudgeView, dim: str) -> int:
            return sum(scorer(view, r)[m] for r in (1, 2) for m in DIMENSION_METRICS[dim])

        out = {}
        for dim in DIMENSION_IDS:
            diff = total(a, dim) - total(b, dim)
            out[dim] = "A" if diff > 0 else "B" if diff < 0 else "tie"
        return out

    return decide


def always_first(_a: JudgeView, _b: JudgeView) -> dict[str, str]:
    """Planted position bias: whatever is shown first wins."""
    return dict.fromkeys(DIMENSION_IDS, "A")


def pair_views(request: FakeRequest) -> tuple[JudgeView, JudgeView] | None:
    """The two sides of a pairwise request, or ``None`` if it is not one."""
    block = find_data_block(request.messages, DIALOGUE_TAG)
    if not isinstance(block, dict) or not {"A", "B"} <= set(block):
        return None
    prompt = next((m.content for m in request.messages if m.role == "user"), "")
    chinese = is_chinese(prompt)

    def view(side: str) -> JudgeView:
        dialogue = block[side] if isinstance(block[side], dict) else {}
        return JudgeView(chinese, dialogue, (1, 2), None, f"{request.model}|{side}")

    return view("A"), view("B")


def pairwise_reply(views: tuple[JudgeView, JudgeView], decide: PairDecider) -> dict[str, Any]:
    note = "逐个维度比较了两段回答。" if views[0].chinese else "Compared the answers per dimension."
    return {"rationale": note, "verdicts": decide(*views)}


ScorerFor = Callable[[FakeRequest], Scorer]
"""Request -> scorer: fixed for most judges, from the model name for ``judge-self-*``."""


def fixed(scorer: Scorer) -> ScorerFor:
    return lambda _request: scorer


def self_family(request: FakeRequest) -> Scorer:
    """``fake/judge-self-gpt`` -> the scorer preferring the ``gpt`` tic."""
    return self_scorer(request.behaviour.removeprefix("judge-self-"))


def register_bias_judge(
    name: str, scorer_for: ScorerFor, decide: PairDecider | None = None
) -> None:
    """Serve ``fake/<name>`` for pointwise, diversity and pairwise judge requests.

    ``decide`` (pairwise verdicts) defaults to comparing the scorer's sums per dimension.
    """

    def behaviour(request: FakeRequest) -> str:
        score = scorer_for(request)
        views = pair_views(request)
        if views is not None:
            verdicts = pairwise_reply(views, decide or by_scores(score))
            return json.dumps(verdicts, ensure_ascii=False)
        view = judge_view(request)
        if view is None:
            return "No <dialogue_json> or <answers_json> block found: nothing to judge."
        return json.dumps(reply(view, score, plausible_diversity), ensure_ascii=False)

    register_behaviour(name, behaviour, replace=True)


register_bias_judge("judge-fair", fixed(truth_scores))
register_bias_judge("judge-pairwise", fixed(truth_scores))
register_bias_judge("judge-anti-casual", fixed(anti_casual_scores))
register_bias_judge("judge-lenient", fixed(lenient_scores))
register_bias_judge("judge-position", fixed(truth_scores), always_first)
register_bias_judge("judge-self-*", self_family)
