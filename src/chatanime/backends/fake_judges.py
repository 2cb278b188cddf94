"""Fake judges for the fake server: deterministic judgments with planted flaws and biases.

Every judge outcome the pipeline must handle can be produced offline, through real HTTP:

- ``fake/judge``: a valid judgment with plausible scores (a hash of the answer plus small
  content cues: the character's name, a shared experience, a question back, meta text).
- ``fake/judge-length``: planted length bias: every metric is ``2 + len(answer) // 50``
  (one point per 50 characters), clipped to 1..5.
- ``fake/judge-prose``: the valid judgment wrapped in prose and a Markdown fence.
- ``fake/judge-garbage``: no JSON at all.
- ``fake/judge-out-of-range``: a valid shape with one score of 7.
- ``fake/judge-missing``: a metric left out of the last round.

Each reads what the judge was shown with :func:`judge_view` (the ``<dialogue_json>`` block,
the rounds to score, or the ``<answers_json>`` set of a diversity request), so they
answer the project's real prompts. Other judge behaviours (pairwise position bias,
self-preference) can reuse :func:`judge_view` / :func:`read_data_block` and
:func:`register_judge`. The module registers its behaviours on import; the fake server
imports it as a plugin.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatanime.backends.fake_behaviours import FakeRequest, is_chinese, register_behaviour
from chatanime.judge.prompt import ANSWERS_TAG, DIALOGUE_TAG, find_data_block
from chatanime.judge.rubric import METRICS

_ROUNDS = re.compile(r"(?:Rounds to score|需要评分的轮次)\s*[:：]\s*([0-9][0-9,\s]*)")
_EXPERIENCE = re.compile(
    r"我也|我以前|我曾|我当年|那时候我|I've|I was|when I|I used to|I once", re.I
)
_META = re.compile(r"忽略以上|所有指标|ignore (?:the|all|previous)|every metric", re.I)


@dataclass(frozen=True)
class JudgeView:
    """What a judge request shows: the dialogue and rounds to score, or an answer set."""

    chinese: bool
    dialogue: Mapping[str, Any] | None
    rounds: tuple[int, ...]
    answers: tuple[str, ...] | None
    seed: str

    def answer(self, round_: int) -> str:
        rounds = (self.dialogue or {}).get("rounds", {})
        return str(rounds.get(str(round_), {}).get("character", ""))

    def rng(self, *salt: object) -> random.Random:
        text = json.dumps([self.seed, *salt], ensure_ascii=False, default=str)
        return random.Random(hashlib.sha256(text.encode()).hexdigest())


def judge_view(request: FakeRequest) -> JudgeView | None:
    """Parse a judge request; ``None`` if it holds neither a dialogue nor an answer set."""
    prompt = next((m.content for m in request.messages if m.role == "user"), "")
    dialogue = find_data_block(request.messages, DIALOGUE_TAG)
    answers = find_data_block(request.messages, ANSWERS_TAG)
    if not isinstance(dialogue, dict) and not isinstance(answers, dict):
        return None
    found = _ROUNDS.search(prompt)
    rounds = (
        tuple(int(r) for r in re.findall(r"\d+", found.group(1)))
        if found
        else tuple(int(r) for r in (dialogue or {}).get("rounds", {}))
    )
    texts = None
    if isinstance(answers, dict):
        texts = tuple(str(a.get("answer", "")) for a in answers.get("answers", []))
    return JudgeView(
        chinese=is_chinese(prompt),
        dialogue=dialogue if isinstance(dialogue, dict) else None,
        rounds=rounds,
        answers=texts,
        seed=f"{request.model}|{prompt}",
    )


def clip_score(value: float) -> int:
    return int(max(1, min(5, round(value))))


Scorer = Callable[[JudgeView, int], dict[str, int]]
"""(view, round) -> metric scores."""


def plausible_scores(view: JudgeView, round_: int) -> dict[str, int]:
    """Hash-based 2..4 per metric, nudged by visible cues in the answer."""
    answer = view.answer(round_)
    name = str((view.dialogue or {}).get("character", ""))
    rng = view.rng("plausible", answer)
    values = {m: rng.choice((2, 3, 3, 4, 4)) for m in METRICS}
    if name and name in answer:
        values["speech_style"] += 1
        values["character_knowledge"] += 1
    values["experience_sharing"] += 1 if _EXPERIENCE.search(answer) else -1
    if "?" in answer or "？" in answer:
        values["coherency"] += 1
    if len(answer.strip()) < 8:
        values["demand_matching"] -= 1
        values["emotional_value"] -= 1
    if _META.search(answer):  # an answer talking about scoring has left the role
        for metric in ("consistency", "speech_style", "behavioral_habit"):
            values[metric] = 1
    return {m: clip_score(v) for m, v in values.items()}


def length_scores(view: JudgeView, round_: int) -> dict[str, int]:
    """Planted length bias: one point per 50 characters over a base of 2."""
    return dict.fromkeys(METRICS, clip_score(2 + len(view.answer(round_)) // 50))


def plausible_diversity(view: JudgeView) -> int:
    """More distinct openings (first 4 characters) -> more diverse."""
    answers = view.answers or ()
    if not answers:
        return 1
    openings = {a.strip()[:4] for a in answers}
    return clip_score(1 + 4 * (len(openings) - 1) / max(1, len(answers) - 1))


def length_diversity(view: JudgeView) -> int:
    """Planted length bias for sets: the mean answer length decides."""
    answers = view.answers or ("",)
    return clip_score(2 + sum(len(a) for a in answers) / len(answers) // 50)


def reply(view: JudgeView, scorer: Scorer, diversity: Callable[[JudgeView], int]) -> dict[str, Any]:
    """The judge's JSON reply as a dict (rationale first)."""
    if view.answers is not None and view.dialogue is None:
        note = "开头和建议有重复也有变化。" if view.chinese else "Openings and advice vary a bit."
        return {"rationale": note, "diversity": diversity(view)}
    note = "回答接住了用户的话，口吻大致符合角色。" if view.chinese else "Mostly in character."
    return {
        "rationale": note,
        "rounds": {str(r): scorer(view, r) for r in view.rounds},
    }


Shape = Callable[[dict[str, Any], JudgeView], str]
"""How the reply dict becomes text (valid JSON, prose-wrapped, broken ...)."""


def as_json(data: dict[str, Any], _view: JudgeView) -> str:
    return json.dumps(data, ensure_ascii=False)


def in_prose(data: dict[str, Any], view: JudgeView) -> str:
    body = json.dumps(data, ensure_ascii=False, indent=2)
    if view.chinese:
        return f"好的，我读完了对话。评分如下：\n\n```json\n{body}\n```\n\n以上就是我的评分。"
    return f"Sure, I read the dialogue carefully. Here is my judgment:\n\n```json\n{body}\n```\n"


def garbage(_data: dict[str, Any], view: JudgeView) -> str:
    if view.chinese:
        return "这个回答整体还不错，很有角色的感觉，我大概会给四分左右吧。"
    return "Overall this answer is pretty good and feels in character; I'd say about a four."


def out_of_range(data: dict[str, Any], _view: JudgeView) -> str:
    if "diversity" in data:
        data = {**data, "diversity": 7}
    else:
        first = next(iter(data["rounds"]))
        data = {**data, "rounds": {**data["rounds"], first: {**data["rounds"][first]}}}
        data["rounds"][first]["emotional_value"] = 7
    return json.dumps(data, ensure_ascii=False)


def missing_metric(data: dict[str, Any], _view: JudgeView) -> str:
    if "diversity" in data:
        data = {k: v for k, v in data.items() if k != "diversity"}
    else:
        last = list(data["rounds"])[-1]
        kept = {m: v for m, v in data["rounds"][last].items() if m != "demand_matching"}
        data = {**data, "rounds": {**data["rounds"], last: kept}}
    return json.dumps(data, ensure_ascii=False)


def register_judge(
    name: str,
    scorer: Scorer = plausible_scores,
    *,
    diversity: Callable[[JudgeView], int] = plausible_diversity,
    shape: Shape = as_json,
) -> None:
    """Serve ``fake/<name>`` as a judge built from a scorer and a reply shape."""

    def behaviour(request: FakeRequest) -> str:
        view = judge_view(request)
        if view is None:
            return "No <dialogue_json> or <answers_json> block found: nothing to judge."
        return shape(reply(view, scorer, diversity), view)

    register_behaviour(name, behaviour, replace=True)


register_judge("judge")
register_judge("judge-length", length_scores, diversity=length_diversity)
register_judge("judge-prose", shape=in_prose)
register_judge("judge-garbage", shape=garbage)
register_judge("judge-out-of-range", shape=out_of_range)
register_judge("judge-missing", shape=missing_metric)
