"""The judge audit end to end: a rated study, judges with planted biases, real HTTP.

A synthetic study whose ground truth the test controls: every answer's true quality is
:func:`hidden_truth` of its text; annotators rate the truth plus noise (unbiased stochastic
rounding); fans write short, casual answers and the models long, punctuated ones, and the
``gpt-4.1`` answers carry the gpt family's tic. Each fake judge adds one known distortion,
and the audit must find it, size it, and find nothing it did not plant.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

import chatanime.backends.fake_judges_bias  # noqa: F401  (registers the planted-bias judges)
from chatanime.annotate.ratings import save_ratings
from chatanime.annotate.study import StudySpec, create_study
from chatanime.annotate.tables import annotators, assignments, items
from chatanime.backends.base import ChatModel
from chatanime.backends.fake_judges_bias import FAMILY_TICS, hidden_truth
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.cli import judge as judge_cli
from chatanime.cli import judge_fairness
from chatanime.dialogue import Dialogue
from chatanime.judge.audit import OVERALL, JudgeAudit, audit_judge
from chatanime.judge.calibrate import judge_study
from chatanime.judge.rubric import DIMENSION_METRICS, METRICS
from chatanime.runner import RunOptions
from chatanime.store import Store, open_store

SYSTEMS = ("human", "gpt-4.1", "deepseek-v3", "claude-sonnet-4")
CHARACTERS = ("naruto", "kirito", "asuna")
SCENARIOS = (2, 3, 4, 5, 6, 8)
ANNOTATORS = ("ann1", "ann2", "ann3", "ann4")
POINTWISE = (
    "fake/judge-fair",
    "fake/judge-length",
    "fake/judge-anti-casual",
    "fake/judge-self-gpt",
    "fake/judge-position",
    "fake/judge-lenient",
)
PAIRWISE = ("fake/judge-fair", "fake/judge-position")
FAMILIES = {"fake/judge-self-gpt": "gpt"}
PHRASES = (
    "别担心",
    "我懂你的感受",
    "先深呼吸一下",
    "慢慢来就好",
    "今天已经很努力了",
    "要不要试试换个方法",
    "我陪着你",
    "下次一定会更好",
    "有什么想说的都可以告诉我",
    "一步一步来",
    "你比自己想的更厉害",
    "休息一下也没关系",
)
BASIC = DIMENSION_METRICS["basic"]


def answer(rng: random.Random, system: str) -> str:
    """Fans: 20-90 characters, casual ending; models: 50-140, punctuated; gpt adds its tic."""
    lo, hi = (20, 90) if system == "human" else (50, 140)
    target, text = rng.randint(lo, hi), ""
    while len(text) < target:
        text += rng.choice(PHRASES) + "，"
    text = text[:target].rstrip("，")
    if system == "human":
        return text + rng.choice(("～", "啦", "哈哈", "……"))
    if system == "gpt-4.1":
        text = f"{FAMILY_TICS['gpt']}，{text}"
    return text + rng.choice(("。", "！"))


def synthetic_dialogues(scenarios: tuple[int, ...] = SCENARIOS) -> list[Dialogue]:
    rng = random.Random(20240901)
    out = []
    for character in CHARACTERS:
        for scenario in scenarios:
            q1 = f"场景{scenario}：最近压力好大，不知道该怎么办"
            for system in SYSTEMS:
                a1, a2 = answer(rng, system), answer(rng, system)
                q2 = f"谢谢你，那我接下来该做什么呢？（{system}）"
                out.append(Dialogue(system=system, character=character, scenario=scenario,
                                    q1=q1, a1=a1, q2=q2, a2=a2))  # fmt: skip
    return out


def truth(d: Dialogue, metric: str) -> float:
    """The item's true quality: the mean of its two answers' hidden truth."""
    return (hidden_truth(d.a1)[metric] + hidden_truth(d.a2)[metric]) / 2


def rate_everything(store: Store, study_id: str, dialogues: list[Dialogue], seed: int = 3) -> int:
    """Each assigned rating = truth + noise in {-1, 0, +1}, unbiasedly rounded to 1..5."""
    rng = random.Random(seed)
    index = {(d.system, d.character, d.scenario): d for d in dialogues}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(assignments.c.annotator_id, assignments.c.position, items.c.id,
                   items.c.system, items.c.character, items.c.scenario)
            .join(items, items.c.id == assignments.c.item_id)
            .join(annotators, annotators.c.id == assignments.c.annotator_id)
            .where(assignments.c.study_id == study_id)
        ).all()  # fmt: skip
    for annotator_id, position, item_id, system, character, scenario in rows:
        d = index[(system, character, scenario)]
        values = {}
        for metric in METRICS:
            noisy = truth(d, metric) + rng.choice((-1, 0, 0, 0, 1)) + rng.random()
            values[metric] = min(5, max(1, math.floor(noisy)))
        save_ratings(store.engine, annotator_id, position, item_id, values)
    return len(rows)


def make_rated_study(
    store: Store, name: str = "audit", dialogues: list[Dialogue] | None = None
) -> list[Dialogue]:
    """A study of SCENARIOS (from ``dialogues``, which may hold more), fully rated."""
    dialogues = dialogues or synthetic_dialogues()
    spec = StudySpec(name=name, systems=SYSTEMS, characters=CHARACTERS, scenarios=SCENARIOS,
                     annotators=ANNOTATORS, overlap=2, seed=11)  # fmt: skip
    created = create_study(store, spec, dialogues)
    expected = len(SYSTEMS) * len(CHARACTERS) * len(SCENARIOS) * 2
    assert rate_everything(store, created.study_id, dialogues) == expected
    return dialogues


def length_slope(dialogues: list[Dialogue], value: Callable[[Dialogue], float]) -> float:
    """OLS slope of ``value`` per 50 characters of mean answer length, at equal authorship."""
    length = np.array([(len(d.a1) + len(d.a2)) / 2 / 50 for d in dialogues])
    fans = np.array([d.system == "human" for d in dialogues], dtype=float)
    x = np.column_stack([np.ones(len(length)), length, fans])
    y = np.array([value(d) for d in dialogues])
    return float(np.linalg.lstsq(x, y, rcond=None)[0][1])


def planted_score(d: Dialogue) -> float:
    """The length judge's exact item score: 2 + one point per 50 characters, per round."""
    return (min(5, 2 + len(d.a1) // 50) + min(5, 2 + len(d.a2) // 50)) / 2


def models_for(server: FakeServer) -> Callable[[str], ChatModel]:
    return lambda name: get_model(name, base_url=server.base_url)


@pytest.fixture(scope="module")
def audited(
    tmp_path_factory: pytest.TempPathFactory, _shared_fake_server: FakeServer
) -> Iterator[tuple[Store, str]]:
    """A rated study judged by every planted-bias judge (pairwise by two of them)."""
    path = str(tmp_path_factory.mktemp("audit") / "audit.db")
    store = open_store(path)
    make_rated_study(store)
    options = RunOptions(progress=False)
    models = models_for(_shared_fake_server)
    done = judge_study(store, "audit", POINTWISE, models=models, options=options)
    assert done.complete and all(r.counts.scored == 72 for r in done.pointwise.runs)
    both = judge_study(store, "audit", PAIRWISE, models=models, options=options, pairwise=True)
    assert both.pairwise is not None and both.complete
    assert [r.counts.scored for r in both.pairwise.runs] == [108, 108]  # 54 pairs x 2 orders
    yield store, path
    store.dispose()


def run_audit(store: Store, judge: str) -> JudgeAudit:
    return audit_judge(store, "audit", judge, families=FAMILIES, n_boot=400)


def checks(audit: JudgeAudit) -> set[tuple[str, str]]:
    return {(f.check, f.metric) for f in audit.findings()}


def test_the_fair_judge_shows_no_bias_and_beats_the_human_ceiling(
    audited: tuple[Store, str],
) -> None:
    audit = run_audit(audited[0], "fake/judge-fair")
    assert audit.findings() == [] and audit.n_items == 72
    overall = audit.metric(OVERALL)
    assert overall.human_written is not None and abs(overall.human_written.gap.mean) < 0.15
    assert overall.length is not None and abs(overall.length.slope) < 0.1
    assert overall.self_preference is None  # fake/judge-fair has no family
    # noise-free truth agrees with each annotator's reference better than annotators do
    ag = overall.agreement
    assert ag.item.spearman > 0.5 and ag.judge_loo > ag.human_ceiling > 0.2
    assert {p.dimension for p in audit.position} == {"basic", "roleplay", "emotional"}
    assert all(p.flip_share.mean == 0 and p.n_items == 54 for p in audit.position)


def test_the_length_judge_is_sized_at_one_point_per_50_characters(
    audited: tuple[Store, str],
) -> None:
    audit = run_audit(audited[0], "fake/judge-length")
    dialogues = synthetic_dialogues()
    # the planted step (+1 at every 50 characters) is ~0.85 points per 50 characters as a
    # straight line through these lengths; the audit measures the judge's slope *beyond*
    # people, so the exact expectation per metric is planted - the truth's own slope
    planted = length_slope(dialogues, planted_score)
    assert planted == pytest.approx(1.0, abs=0.2)
    for metric in (*METRICS, OVERALL):
        length = audit.metric(metric).length
        assert length is not None
        names = METRICS if metric == OVERALL else (metric,)
        own = length_slope(dialogues, lambda d, n=names: float(np.mean([truth(d, m) for m in n])))
        expected = planted - own
        tolerance = 0.12 if metric == OVERALL else 0.3  # annotator noise, 72 items
        assert length.slope == pytest.approx(expected, abs=tolerance), (metric, expected)
        assert length.lo < expected < length.hi and length.mean_within > 0.5
    overall = audit.metric(OVERALL).length
    assert overall is not None and overall.lo > 0.6 and abs(overall.human_slope) < 0.15
    # detected overall, and on most single metrics (72 items with noisy people: not all)
    found = {metric for check, metric in checks(audit) if check == "length"}
    assert OVERALL in found and len(found & set(METRICS)) >= 6
    # fans write shorter, so the length bias lands on them: a real bias against fans
    gap = audit.metric(OVERALL).human_written
    assert gap is not None and gap.gap.hi < -0.4
    assert audit.metric(OVERALL).agreement.judge_loo < 0.3
    assert audit.position == ()  # never judged pairwise


def test_the_anti_casual_judge_is_caught_on_basic_metrics_only(
    audited: tuple[Store, str],
) -> None:
    audit = run_audit(audited[0], "fake/judge-anti-casual")
    found = checks(audit)
    for metric in METRICS:
        gap = audit.metric(metric).human_written
        assert gap is not None
        if metric in BASIC:
            assert gap.gap.mean == pytest.approx(-1.0, abs=0.35), metric
            assert ("human_written", metric) in found
        else:
            assert abs(gap.gap.mean) < 0.35 and ("human_written", metric) not in found
    overall = audit.metric(OVERALL).human_written  # 3 of the 9 metrics lose a point
    assert overall is not None and overall.gap.mean == pytest.approx(-1 / 3, abs=0.12)
    assert not any(check == "length" for check, _ in found)  # authorship is held fixed


def test_other_human_written_systems_join_the_fans(audited: tuple[Store, str]) -> None:
    # claude's answers are punctuated: counted as human-written they halve the fans' gap
    audit = audit_judge(audited[0], "audit", "fake/judge-anti-casual",
                        human_systems=("claude-sonnet-4",), n_boot=100)  # fmt: skip
    gap = audit.metric("fluency").human_written
    assert gap is not None and gap.gap.mean == pytest.approx(-0.5, abs=0.25)
    assert gap.human_written.n == 36 and gap.model_written.n == 36


def test_the_self_preferring_judge_is_caught_and_sized(audited: tuple[Store, str]) -> None:
    audit = run_audit(audited[0], "fake/judge-self-gpt")
    assert audit.family == "gpt"
    for metric in (*METRICS, OVERALL):
        sp = audit.metric(metric).self_preference
        assert sp is not None and sp.own_systems == ("gpt-4.1",)
        assert sp.gap.mean == pytest.approx(1.0, abs=0.35) and sp.gap.lo > 0.25, metric
        assert ("self", metric) in checks(audit)
    overall = audit.metric(OVERALL).self_preference
    assert overall is not None and overall.gap.mean == pytest.approx(1.0, abs=0.12)
    # without the family the check cannot run, and says so by being absent
    blind = audit_judge(audited[0], "audit", "fake/judge-self-gpt", n_boot=50)
    assert blind.family is None and blind.metric(OVERALL).self_preference is None


def test_the_position_judge_flips_every_verdict(audited: tuple[Store, str]) -> None:
    audit = run_audit(audited[0], "fake/judge-position")
    assert {(f.check, f.metric) for f in audit.findings()} == {
        ("position", "basic"), ("position", "roleplay"), ("position", "emotional")
    }  # fmt: skip
    for p in audit.position:
        assert p.flip_share.mean == 1.0 and p.reversal_share == 1.0
        assert p.first_shown_share == 1.0


def test_a_lenient_judge_has_an_overall_bias_but_no_group_bias(
    audited: tuple[Store, str],
) -> None:
    audit = run_audit(audited[0], "fake/judge-lenient")
    assert audit.metric(OVERALL).bias.mean == pytest.approx(1.0, abs=0.15)
    assert audit.findings() == []  # scale use is calibration's job, not a fairness bias


def test_audit_command_prints_the_planted_bias(audited: tuple[Store, str]) -> None:
    root = build_app()
    args = ["judge", "audit", "--judge", "fake/judge-anti-casual", "--study", "audit",
            "--store", audited[1], "--no-pairwise", "--no-progress", "--n-boot", "100",
            "--base-url", "http://127.0.0.1:9/v1"]  # fmt: skip
    result = CliRunner().invoke(root, args, catch_exceptions=False, env={"COLUMNS": "220"})
    # the items are already judged: the rerun calls nothing (the dead URL would fail)
    assert result.exit_code == 0, result.output
    assert "human_written fluency" in result.output
    assert "human_written speech_style" not in result.output
    assert "judge LOO" in result.output and "human ceiling" in result.output


def test_audit_of_an_unknown_study_is_one_error(audited: tuple[Store, str]) -> None:
    from chatanime.errors import DataError

    with pytest.raises(DataError, match="no study 'nope'"):
        audit_judge(audited[0], "nope", "fake/judge-fair")


def build_app() -> typer.Typer:
    root = typer.Typer()

    @root.command("version")
    def version() -> None:
        typer.echo("0")

    judge_cli.register(root)
    judge_fairness.register(root)
    return root


def test_fans_write_shorter_and_casual_in_the_synthetic_study() -> None:
    dialogues = synthetic_dialogues()
    fans = [d for d in dialogues if d.system == "human"]
    models = [d for d in dialogues if d.system != "human"]
    mean = lambda ds: sum(len(d.a1) + len(d.a2) for d in ds) / (2 * len(ds))  # noqa: E731
    assert mean(fans) < 65 < 85 < mean(models)
    assert all(len(d.a1) <= 150 and len(d.a2) <= 150 for d in dialogues)
