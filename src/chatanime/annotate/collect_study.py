"""Creating a collection study: respondents per character, their scenarios, invite tokens.

The study's human baseline had two fans per character share that character's 60 scenarios,
so every (character, scenario) was written once, by a fan of that character. A collection
study does the same: each character gets ``per_character`` respondents, and its selected
scenarios are dealt among them (seeded shuffle, round-robin, so loads differ by at most
one). Each cell is one dialogue row, answered once; the export is then one system file
with one dialogue per cell, like ``human.json``.

Everything the pages and the simulator need (characters, scenarios, limit, quiz, simulator
settings) is snapshotted into the study row.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Row, insert

from chatanime.annotate import ensure_schema
from chatanime.annotate.collect_quiz import Quiz
from chatanime.annotate.collect_tables import collect_dialogues, collect_studies, respondents
from chatanime.annotate.security import hash_token, new_id, new_token
from chatanime.annotate.study_rows import (
    find_study_row,
    insert_study,
    now_iso,
    rotate_admin_token,
    rotate_member_tokens,
)
from chatanime.annotate.wording import LANGUAGES
from chatanime.benchmark import Benchmark
from chatanime.characters import Character
from chatanime.errors import DataError
from chatanime.protocol import question_source
from chatanime.simulator import UserSimulator
from chatanime.store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True)
class SimulatorSettings:
    """How round 2 is produced: the model, validation attempts and patience.

    ``attempts`` is the simulator's own retry on a rejected turn (as in generation);
    ``max_retries`` / ``base_delay`` / ``max_delay`` drive the retry wrapper on 429s, 5xx
    and timeouts of one call (``timeout_s`` each); ``deadline_s`` bounds the whole job.
    A failed job is retried by the respondent's page itself ``auto_retries`` times, then
    only when the respondent asks.
    """

    model: str
    attempts: int = 3
    timeout_s: float = 30.0
    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 10.0
    deadline_s: float = 180.0
    auto_retries: int = 2
    auto_retry_after_s: float = 10.0

    def __post_init__(self) -> None:
        if "/" not in self.model:
            raise DataError(f"--user-sim: model names look like provider/model, not {self.model!r}")
        if self.attempts < 1 or self.max_retries < 1:
            raise DataError("the simulator needs at least one attempt")
        if self.timeout_s <= 0 or self.deadline_s <= 0:
            raise DataError("simulator timeouts must be positive")


@dataclass(frozen=True)
class CollectSpec:
    """What an admin asks for. ``respondents``: (name, character or None to auto-assign)."""

    name: str
    benchmark: Benchmark
    characters: tuple[str, ...]
    scenarios: tuple[int, ...]
    simulator: SimulatorSettings
    respondents: tuple[tuple[str, str | None], ...] = ()
    per_character: int = 1
    limit: int | None = None
    min_length: int = 1
    quiz: Quiz | None = None
    seed: int | None = None

    @property
    def answer_limit(self) -> int:
        return self.limit if self.limit is not None else self.benchmark.answer_limit


@dataclass(frozen=True)
class RespondentInvite:
    """One respondent's secret link; shown once, stored only as a hash."""

    respondent: str
    character: str
    token: str

    def url(self, base_url: str) -> str:
        return respondent_url(base_url, self.token)


@dataclass(frozen=True)
class CreatedCollection:
    study_id: str
    name: str
    admin_token: str
    invites: tuple[RespondentInvite, ...]
    n_dialogues: int


@dataclass
class _Plan:
    """Respondent -> character, and respondent -> scenarios (in position order)."""

    character: dict[str, str] = field(default_factory=dict)
    scenarios: dict[str, list[int]] = field(default_factory=dict)


def respondent_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"


def parse_respondents(text: str) -> tuple[tuple[str, str | None], ...]:
    """``"alice:luffy,bob:luffy,carol"`` -> ``(("alice", "luffy"), ("bob", "luffy"),
    ("carol", None))``: a respondent without a character is assigned one."""
    out: list[tuple[str, str | None]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, character = part.partition(":")
        out.append((name.strip(), character.strip() or None if sep else None))
    return tuple(out)


def resolve_character(benchmark: Benchmark, name: str) -> Character:
    """A benchmark character by slug, release key, or its Chinese/English name."""
    needle = name.strip().casefold()
    for char in benchmark.characters:
        if needle in {n.casefold() for n in (char.slug, char.key, *char.names)}:
            return char
    return benchmark.character(name.strip())  # raises a DataError listing the slugs


def _validate(spec: CollectSpec) -> None:
    if not _NAME.match(spec.name):
        raise DataError(
            f"study names must be short ASCII words (e.g. fans-2026), not {spec.name!r}"
        )
    if spec.benchmark.language not in LANGUAGES:
        raise DataError(f"no interface wording for language {spec.benchmark.language!r}")
    if not spec.characters or not spec.scenarios:
        raise DataError("a collection study needs characters and scenarios")
    if len(set(spec.characters)) != len(spec.characters):
        raise DataError("characters must be unique")
    for scenario in spec.scenarios:
        spec.benchmark.scenario(scenario)
    if not 1 <= spec.per_character <= len(spec.scenarios):
        raise DataError(
            f"--respondents-per-character must be between 1 and the number of scenarios "
            f"({len(spec.scenarios)})"
        )
    if spec.answer_limit < 1 or not 0 <= spec.min_length <= spec.answer_limit:
        raise DataError("the answer limit must be positive and at least the minimum length")
    names = [n for n, _ in spec.respondents]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise DataError(f"respondent names must be short ASCII words; not {bad[0]!r}")
    if len(set(names)) != len(names):
        raise DataError("respondent names must be unique")


def plan_respondents(spec: CollectSpec, rng: random.Random) -> _Plan:
    """Assign respondents to characters (explicit first, then the least staffed character)
    and deal each character's scenarios among its respondents."""
    plan = _Plan()
    staff: dict[str, list[str]] = {c: [] for c in spec.characters}
    given = spec.respondents or tuple(
        (f"{c}-{i}", c) for c in spec.characters for i in range(1, spec.per_character + 1)
    )
    for name, character in given:
        if character is not None:
            slug = resolve_character(spec.benchmark, character).slug
            if slug not in staff:
                raise DataError(f"respondent {name!r}: character {slug!r} is not in the study")
            staff[slug].append(name)
    for name, character in given:
        if character is None:
            slug = min(spec.characters, key=lambda c: len(staff[c]))
            staff[slug].append(name)
    for slug, names in staff.items():
        if len(names) != spec.per_character:
            raise DataError(
                f"character {slug!r} has {len(names)} respondents; "
                f"{spec.per_character} per character were asked for"
            )
        dealt: dict[str, list[int]] = {n: [] for n in names}
        for i, scenario in enumerate(rng.sample(list(spec.scenarios), len(spec.scenarios))):
            dealt[names[i % len(names)]].append(scenario)
        for name in names:
            plan.character[name] = slug
            plan.scenarios[name] = sorted(dealt[name])
    return plan


def _config(spec: CollectSpec, seed: int) -> dict[str, Any]:
    bench = spec.benchmark
    chars = {slug: bench.character(slug) for slug in spec.characters}
    sim = UserSimulator(spec.simulator.model, bench.language, attempts=spec.simulator.attempts)
    return {
        "benchmark": {"name": bench.name, "ref": bench.ref, "sha256": bench.sha256},
        "language": bench.language,
        "limit": spec.answer_limit,
        "min_length": spec.min_length,
        "per_character": spec.per_character,
        "seed": seed,
        "question_source": question_source(bench),
        "characters": {s: c.model_dump(mode="json") for s, c in chars.items()},
        "character_keys": {s: c.key for s, c in chars.items()},
        "scenarios": {str(i): bench.scenario(i).model_dump(mode="json") for i in spec.scenarios},
        "simulator": {**asdict(spec.simulator), "prompt_ref": sim.prompt.ref},
        "quiz": spec.quiz.model_dump(mode="json") if spec.quiz is not None else None,
    }


def create_collection(store: Store, spec: CollectSpec) -> CreatedCollection:
    """Write the study, its respondents and their dialogue rows in one transaction."""
    slugs = tuple(resolve_character(spec.benchmark, c).slug for c in spec.characters)
    spec = replace(spec, characters=slugs)
    _validate(spec)
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    plan = plan_respondents(spec, random.Random(seed))
    study_id, admin_token, now = new_id(), new_token(), now_iso()
    invites = tuple(RespondentInvite(n, plan.character[n], new_token()) for n in plan.character)
    ensure_schema(store)
    with store.engine.begin() as conn:
        insert_study(
            conn,
            collect_studies,
            study_id=study_id,
            name=spec.name,
            created_at=now,
            config=_config(spec, seed),
            admin_token=admin_token,
            kind="collection study",
        )
        n = _write_respondents(conn, study_id, spec, invites, plan, now)
    return CreatedCollection(study_id, spec.name, admin_token, invites, n)


def _write_respondents(
    conn: Connection,
    study_id: str,
    spec: CollectSpec,
    invites: Sequence[RespondentInvite],
    plan: _Plan,
    now: str,
) -> int:
    rows: list[dict[str, Any]] = []
    for invite in invites:
        respondent_id = new_id()
        conn.execute(
            insert(respondents).values(
                id=respondent_id,
                study_id=study_id,
                name=invite.respondent,
                character=invite.character,
                token_hash=hash_token(invite.token),
                created_at=now,
            )
        )
        rows.extend(
            {
                "id": new_id(),
                "study_id": study_id,
                "respondent_id": respondent_id,
                "position": pos,
                "character": invite.character,
                "scenario": scenario,
                "question_r1": spec.benchmark.scenario(scenario).question_r1,
                "sim_runs": 0,
                "sim_failures": 0,
            }
            for pos, scenario in enumerate(plan.scenarios[invite.respondent], start=1)
        )
    conn.execute(insert(collect_dialogues), rows)
    return len(rows)


def find_collection(conn: Connection, ref: str) -> Row[Any]:
    """A collection study by id or name; DataError naming the known ones otherwise."""
    return find_study_row(conn, collect_studies, ref, "collection study")


def rotate_respondent_links(
    store: Store, study: str, names: Sequence[str] = ()
) -> list[RespondentInvite]:
    """New links for ``names`` (all respondents if empty); old links stop working."""
    ensure_schema(store)
    with store.engine.begin() as conn:
        row = find_collection(conn, study)
        issued = rotate_member_tokens(conn, respondents, row, names, "respondent")
    return [RespondentInvite(person.name, person.character, token) for person, token in issued]


def rotate_collection_admin_token(store: Store, study: str) -> str:
    """A new admin token for the collection study (the old one stops working)."""
    return rotate_admin_token(store, collect_studies, study, "collection study")
