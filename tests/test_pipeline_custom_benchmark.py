"""The whole pipeline on a user-defined benchmark with an original character, through the CLI.

One path for every benchmark is the promise of ``docs/custom-benchmark.md``: this runs it
end to end with the real commands (typer's CliRunner on the full app), real HTTP to the fake
model server and a temporary SQLite store, on three kinds of benchmark:

- ``example``: the shipped folder ``data/benchmarks/examples/original-character`` (English);
- ``generated-en`` / ``generated-zh``: a folder written by ``chatanime scenarios generate
  --out DIR`` from the original character's card plus a built-in character.

Steps: scenarios generate -> generate (two systems) -> data info -> judge -> diversity ->
report (with ``--compare``) -> annotate create-study + its page -> collect create-study +
its page. A last test runs generate and judge on the built-in ``chatanime-en``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from typer.testing import CliRunner, Result

import chatanime
from chatanime.annotate.app import create_app
from chatanime.annotate.tables import studies
from chatanime.backends.fake_server import FakeServer
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.characters import CardText
from chatanime.cli import build_app
from chatanime.corpus import load_system
from chatanime.errors import DataError
from chatanime.judge.job import anchor_scenarios
from chatanime.judge.prompt import JudgePrompt
from chatanime.judge.rubric import load_rubric
from chatanime.prompts import load_prompt
from chatanime.store import open_store
from chatanime.store.schema import calls, judgments

EXAMPLE = Path(chatanime.__file__).parent / "data/benchmarks/examples/original-character"
SYSTEMS = ("my-bot", "other-bot")
# A small grid: 2 personas x 2 emotions x 1 location -> about 4 scenarios.
GRID = {
    "en": "--personas student,office-worker --emotions worry,joy --locations library",
    "zh": "--personas student,freelancer --emotions worry,joy --locations 图书馆",
}
# The original character next to a built-in one (luffy has anchor dialogues in scenarios 1-4,
# which must not be dropped on a user benchmark whose scenarios are other situations).
PARTNER = {"en": "madoka", "zh": "luffy"}
INVITE = re.compile(r"http://127\.0\.0\.1:8000/a/(\S+)")
RESPONDENT = re.compile(r"http://127\.0\.0\.1:8000/r/(\S+)")


def cli(*parts: str | Path) -> Result:
    """Run ``chatanime ...`` in process; any failure shows the command's output.

    Text parts are split on whitespace (``"judge --judge fake/judge"``); paths stay whole.
    """
    args = [w for part in parts for w in ([str(part)] if isinstance(part, Path) else part.split())]
    result = CliRunner().invoke(build_app(), args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"chatanime {' '.join(args)}\n{result.output}"
    return result


def rows(db: Path, table: Any) -> list[Any]:
    store = open_store(str(db))
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(select(table)).all())
    finally:
        store.dispose()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh store, reached by every command through ``CHATANIME_STORE``.

    Commands run in ``tmp_path``, as a user runs them in a project folder.
    """
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "store.db"
    monkeypatch.setenv("CHATANIME_STORE", str(path))
    monkeypatch.delenv("CHATANIME_DATA", raising=False)
    return path


@dataclass
class Pipeline:
    """One benchmark under test: its folder, the loaded benchmark, the run files, the store."""

    folder: Path
    bench: Benchmark
    tmp: Path
    db: Path
    extras: list[str | Path] = field(default_factory=list)

    @property
    def hana(self) -> CardText:
        return self.bench.card("hana")


def write_benchmark(case: str, tmp_path: Path) -> Path:
    """Step 1: the benchmark folder (the shipped example, or one written by the model)."""
    if case == "example":
        return EXAMPLE
    language = case.removeprefix("generated-")
    cards = tmp_path / "cards"
    cards.mkdir()
    shutil.copy(EXAMPLE / "characters/hana.yaml", cards / "hana.yaml")
    out = tmp_path / "my-bench"
    cli(
        f"scenarios generate --model fake/scenario-writer --language {language} --no-progress",
        f"--characters cards/hana.yaml,{PARTNER[language]}",  # relative to the working dir
        GRID[language],
        "--out",
        out,
    )
    cli("benchmarks validate", out)
    return out


def generate_systems(p: Pipeline) -> None:
    """Step 2: two systems (the second with the card prompt), exported as release-shape files."""
    runs = p.tmp / "runs"
    for system, options in zip(SYSTEMS, ("", "--card --temperature 0.9"), strict=True):
        cli(
            f"generate --model fake/actor --user-sim fake/user-sim --name {system} --no-progress",
            options,
            "--benchmark",
            p.folder,
            "--out",
            runs,
        )
    grid = {(c.slug, s.id) for c in p.bench.characters for s in p.bench.scenarios}
    for system in SYSTEMS:
        dialogues = load_system(runs / f"{system}.json", p.bench)  # complete, validated
        assert {(d.character, d.scenario) for d in dialogues} == grid
        p.extras += ["--extra", runs / f"{system}.json"]
    lang = p.bench.language
    refs = {(r.role, r.prompt_ref) for r in rows(p.db, calls) if r.role in ("actor", "user-sim")}
    assert {ref for ref in refs if not ref[1].startswith("user-sim-retry.")} == {
        ("actor", load_prompt("roleplay", lang).ref),
        ("actor", load_prompt("roleplay-card", lang).ref),
        ("user-sim", load_prompt("user-sim", lang).ref),
    }


def check_info(p: Pipeline) -> None:
    """Step 3: lengths counted in the benchmark's unit, the unit of its answer limit."""
    info = cli("data info --benchmark", p.folder, *p.extras).output
    unit = "words" if p.bench.language == "en" else "characters"
    assert f"lengths in {unit}" in info and f"≤{p.bench.answer_limit}" in info
    answers = 2 * len(p.bench.characters) * len(p.bench.scenarios)
    # the fake actor keeps to the limit (generate reported 0 over it): so does data info
    assert info.count(f"{answers}/{answers}") == len(SYSTEMS), info


def check_judge(p: Pipeline) -> None:
    """Step 4: one judgment per dialogue, none dropped as an anchor, in the right language."""
    output = cli("judge --judge fake/judge --no-progress --benchmark", p.folder, *p.extras).output
    n = len(SYSTEMS) * len(p.bench.characters) * len(p.bench.scenarios)
    assert f"{n} items selected (0 anchor dialogues excluded)" in output
    judged = [r for r in rows(p.db, judgments) if r.mode == "pointwise"]
    assert len(judged) == n
    assert {r.status for r in judged} == {"scored"}
    assert {r.benchmark for r in judged} == {p.bench.name}
    assert {r.prompt_ref for r in judged} == {JudgePrompt.load(p.bench.language).ref}
    assert {r.rubric_ref for r in judged} == {load_rubric(p.bench.language).ref}


def check_diversity(p: Pipeline) -> None:
    """Step 5: tokens by language (words for English; characters and jieba words for Chinese)."""
    out = p.tmp / "diversity.json"
    cli("diversity --format json --benchmark", p.folder, *p.extras, "--out", out)
    table = json.loads(out.read_text(encoding="utf-8"))
    assert table["language"] == p.bench.language
    assert table["systems"] == list(SYSTEMS)
    units = {m["unit"] for m in table["metrics"]} - {None}
    assert units == ({"word"} if p.bench.language == "en" else {"char", "word"})
    assert all(m["human_ranks_first"] is None for m in table["metrics"])  # no fans here


def check_report(p: Pipeline) -> None:
    """Step 6: no human baseline, so no comparison with the fans; the pair asked for is there."""
    out = p.tmp / "out/custom.html"
    cli(
        "report --n-boot 50 --compare my-bot:other-bot --benchmark",
        p.folder,
        *p.extras,
        "--out",
        out,
    )
    html = out.read_text(encoding="utf-8")
    assert p.hana.name in html and p.bench.ref in html
    assert "System against system" in html
    assert "Each system against the fans, per metric" not in html  # the vs-fans table


def check_annotate(p: Pipeline) -> None:
    """Step 7a: a rating study from the run files, whose pages show the original card."""
    result = cli(
        "annotate create-study --name pilot --annotators ann1,ann2 --seed 1",
        "--systems " + ",".join(SYSTEMS),
        "--characters " + ",".join(c.slug for c in p.bench.characters),
        "--scenarios " + ",".join(str(s.id) for s in p.bench.scenarios),
        "--benchmark",
        p.folder,
        *p.extras,
    )
    (study,) = rows(p.db, studies)
    config = json.loads(study.config_json)
    assert config["benchmark"] == p.bench.name and config["language"] == p.bench.language
    assert config["cards"]["hana"]["name"] == p.hana.name
    token = INVITE.findall(result.output)[0]
    items = len(SYSTEMS) * len(p.bench.characters) * len(p.bench.scenarios)  # overlap 2 of 2
    with app_client(p.db) as client:
        pages = [client.get(f"/a/{token}/{i}") for i in range(1, items + 1)]
    assert all(page.status_code == 200 for page in pages)
    html_lang = "zh-CN" if p.bench.language == "zh" else "en"
    assert all(f'<html lang="{html_lang}">' in page.text for page in pages)
    shown = [page.text for page in pages if str(escape(p.hana.name)) in page.text]
    assert shown and all(str(escape(p.hana.work)) in text for text in shown)


def check_collect(p: Pipeline) -> None:
    """Step 7b: a collection study for the original character; its page shows card and question."""
    result = cli(
        "collect create-study --name fans-hana --user-sim fake/user-sim --characters hana --seed 1",
        "--benchmark",
        p.folder,
    )
    token = RESPONDENT.findall(result.output)[0]
    with app_client(p.db) as client:
        page = client.get(f"/r/{token}/1")
    assert page.status_code == 200
    assert str(escape(p.hana.name)) in page.text and str(escape(p.hana.work)) in page.text
    assert any(str(escape(s.question_r1)) in page.text for s in p.bench.scenarios)


@contextmanager
def app_client(db: Path) -> Iterator[TestClient]:
    """Both web apps (rating and collection) over the store, in process."""
    store = open_store(str(db))
    try:
        with TestClient(create_app(store), follow_redirects=False) as client:
            yield client
    finally:
        store.dispose()


@pytest.mark.parametrize("case", ["example", "generated-en", "generated-zh"])
def test_whole_pipeline_on_a_user_benchmark_with_an_original_character(
    case: str, tmp_path: Path, db: Path, fake_server: FakeServer
) -> None:
    folder = write_benchmark(case, tmp_path)
    p = Pipeline(folder, load_benchmark(folder), tmp_path, db)
    assert p.hana.name in ("Hana Asahi", "朝日花")
    assert anchor_scenarios(p.bench) == frozenset()  # its ids are not the release's scenarios
    generate_systems(p)
    check_info(p)
    check_judge(p)
    check_diversity(p)
    check_report(p)
    check_annotate(p)
    check_collect(p)


def test_english_only_original_character_needs_no_chinese_card(
    tmp_path: Path, db: Path, fake_server: FakeServer
) -> None:
    """An English benchmark whose original character has only an ``en:`` block runs end to end
    (generate with and without the card, judge); a Chinese benchmark refuses the card at load."""
    folder = tmp_path / "en-only"
    shutil.copytree(EXAMPLE, folder)
    card = folder / "characters/hana.yaml"
    raw = yaml.safe_load(card.read_text(encoding="utf-8"))
    del raw["zh"]
    card.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert "original-character-example v1" in cli("benchmarks validate", folder).output
    p = Pipeline(folder, load_benchmark(folder), tmp_path, db)
    assert p.bench.character("hana").languages == ("en",)
    generate_systems(p)
    exported = load_system(tmp_path / "runs/my-bot.json", p.bench)
    hana_answers = [d.a1 for d in exported if d.character == "hana"]
    assert hana_answers and all("Hana Asahi" in a for a in hana_answers)  # the en block's name
    check_judge(p)

    zh_spec = yaml.safe_load((folder / "benchmark.yaml").read_text(encoding="utf-8"))
    zh_spec.update(language="zh", scenarios="zh-scenarios.yaml")
    zh_scenario = {"id": 1, "persona": "student", "emotion": "worry", "location": "宿舍"}
    zh_scenario.update(daily_event="论文要重写。", question_r1="导师让我重写第二章，怎么办？")
    zh_scenarios = yaml.safe_dump({"scenarios": [zh_scenario]}, allow_unicode=True)
    (folder / "zh-scenarios.yaml").write_text(zh_scenarios, encoding="utf-8")
    (folder / "zh.yaml").write_text(yaml.safe_dump(zh_spec), encoding="utf-8")
    with pytest.raises(DataError, match=r"characters\[0\]: character 'hana' .* no `zh:` card"):
        load_benchmark(folder / "zh.yaml")


def test_builtin_english_benchmark_is_listed_judged_and_reported_in_english(
    tmp_path: Path, db: Path, fake_server: FakeServer
) -> None:
    """``chatanime-en`` end to end with one new system (a first look, before any second one)."""
    listed = cli("benchmarks").output
    assert re.search(r"chatanime-en\s+│?\s*en\s", listed), listed

    runs = tmp_path / "runs"
    cli(
        "generate --model fake/actor --user-sim fake/user-sim --name my-bot --no-progress",
        "--benchmark chatanime-en --characters luffy --scenarios 1-4 --out",
        runs,
    )
    bench = load_benchmark("chatanime-en")
    exported = load_system(runs / "my-bot.json", bench, require_complete=False)
    assert {(d.character, d.scenario) for d in exported} == {("luffy", i) for i in (1, 2, 3, 4)}
    assert {r.prompt_ref for r in rows(db, calls) if r.role == "actor"} == {
        load_prompt("roleplay", "en").ref
    }
    cli(
        "judge --judge fake/judge --no-progress --benchmark chatanime-en --extra",
        runs / "my-bot.json",
    )
    judged = rows(db, judgments)
    assert judged and {r.prompt_ref for r in judged} == {JudgePrompt.load("en").ref}
    assert {r.benchmark for r in judged} == {"chatanime-en"}
    # The built-in English benchmark keeps the release's ids, so its anchors still apply.
    assert anchor_scenarios(bench) == frozenset(s.id for s in bench.scenarios)
    # One system only: no fans, no pair, no style control (needs two systems) -- no crash.
    cli(
        "report --n-boot 20 --benchmark chatanime-en --extra",
        runs / "my-bot.json",
        "--out",
        "en.html",
    )
    html = Path("en.html").read_text(encoding="utf-8")
    assert bench.card("luffy").name in html and "System against system" not in html
