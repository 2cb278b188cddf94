"""Creating a study: items (snapshots), balanced blind assignment, invite tokens.

Balance: every item is rated by ``overlap`` distinct annotators, and each item goes to the
annotators with the fewest items so far (ties broken first by how many items of the same
system they already have, then at random), so loads differ by at most one and every
annotator sees the systems in similar proportions. Blindness: the system is stored on the
item for analysis but never rendered. Each annotator's order is shuffled once, stored as
``position``, and so is the same on every visit (which is what makes "resume" meaningful).
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, insert

from chatanime.annotate import ensure_schema, wording
from chatanime.annotate.security import hash_token, new_id, new_token
from chatanime.annotate.study_rows import (
    find_study_row,
    insert_study,
    now_iso,
    rotate_member_tokens,
)
from chatanime.annotate.study_rows import rotate_admin_token as rotate_study_admin_token
from chatanime.annotate.tables import annotators, assignments, items, studies
from chatanime.characters import Character, get_character
from chatanime.dialogue import Dialogue
from chatanime.errors import DataError
from chatanime.store import Store

DIALOGUE = "dialogue"
DIVERSITY = "diversity"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True)
class StudySpec:
    """What an admin asks for; ``seed=None`` draws one (and stores it)."""

    name: str
    systems: tuple[str, ...]
    characters: tuple[str, ...]
    scenarios: tuple[int, ...]
    annotators: tuple[str, ...]
    overlap: int = 2
    diversity_sets: int = 0
    diversity_n: int = 5
    language: str = "zh"
    seed: int | None = None
    benchmark: str = "chatanime"  # judge scores are matched within this benchmark
    # The benchmark's characters, whose cards the study snapshots (a user benchmark's
    # original characters are not built-ins); empty: look slugs up among the built-ins.
    cards: tuple[Character, ...] = ()


@dataclass(frozen=True)
class Invite:
    """One annotator's secret; shown once, stored only as a hash."""

    annotator: str
    token: str

    def url(self, base_url: str) -> str:
        return invite_url(base_url, self.token)


@dataclass(frozen=True)
class CreatedStudy:
    study_id: str
    name: str
    admin_token: str
    invites: tuple[Invite, ...]
    n_items: int
    n_assignments: int


@dataclass
class ItemDraft:
    """An item before it is written: what to show, and what it is (hidden from annotators)."""

    kind: str
    system: str
    character: str
    scenario: int | None
    set_index: int | None
    payload: dict[str, Any]
    id: str = field(default_factory=new_id)


def invite_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/a/{token}"


def parse_scenarios(text: str) -> tuple[int, ...]:
    """``"1-10,15"`` -> (1, ..., 10, 15); order kept, duplicates dropped."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise DataError(f"--scenarios: cannot read {part!r}; use e.g. 1-10,15")
        lo = int(match.group(1))
        hi = int(match.group(2) or lo)
        if hi < lo:
            raise DataError(f"--scenarios: empty range {part!r}")
        out.extend(s for s in range(lo, hi + 1) if s not in out)
    if not out:
        raise DataError("--scenarios: no scenario given")
    return tuple(out)


def _validate(spec: StudySpec) -> None:
    if not spec.name.strip():
        raise DataError("a study needs a name")
    if not spec.annotators:
        raise DataError("a study needs at least one annotator")
    bad = [a for a in spec.annotators if not _NAME.match(a)]
    if bad:
        raise DataError(f"annotator names must be short ASCII words; not {bad[0]!r}")
    if len(set(spec.annotators)) != len(spec.annotators):
        raise DataError("annotator names must be unique")
    if not 1 <= spec.overlap <= len(spec.annotators):
        raise DataError(
            f"overlap {spec.overlap} needs between 1 and {len(spec.annotators)} annotators"
        )
    if spec.diversity_sets < 0 or spec.diversity_n < 2:
        raise DataError("diversity sets need at least 2 answers each")
    if not spec.systems or not spec.characters or not spec.scenarios:
        raise DataError("a study needs systems, characters and scenarios")


def build_items(
    spec: StudySpec, dialogues: Iterable[Dialogue], rng: random.Random
) -> list[ItemDraft]:
    """Dialogue items for every selected (system, character, scenario), plus diversity sets."""
    index = {(d.system, d.character, d.scenario): d for d in dialogues}
    drafts: list[ItemDraft] = []
    for system in spec.systems:
        for character in spec.characters:
            chosen = []
            for scenario in spec.scenarios:
                d = index.get((system, character, scenario))
                if d is None:
                    raise DataError(
                        f"no dialogue for system {system!r}, character {character!r}, "
                        f"scenario {scenario} in the data"
                    )
                payload = {"q1": d.q1, "a1": d.a1, "q2": d.q2, "a2": d.a2}
                drafts.append(ItemDraft(DIALOGUE, system, character, scenario, None, payload))
                chosen.append(d)
            drafts.extend(_diversity_sets(spec, system, character, chosen, rng))
    return drafts


def _diversity_sets(
    spec: StudySpec, system: str, character: str, pool: list[Dialogue], rng: random.Random
) -> list[ItemDraft]:
    """Sets of round-1 answers of one system for one character to different users.

    Round 1 is used because its questions are the benchmark's fixed scenario openings, so
    the answers differ only by situation: a system that repeats itself is visible there.
    Sets are disjoint while the pool lasts.
    """
    if spec.diversity_sets == 0:
        return []
    if len(pool) < spec.diversity_n:
        raise DataError(
            f"diversity sets of {spec.diversity_n} answers need at least that many scenarios; "
            f"{len(pool)} selected"
        )
    order: list[Dialogue] = []
    drafts = []
    for set_index in range(spec.diversity_sets):
        if len(order) < spec.diversity_n:
            order = rng.sample(pool, len(pool))
        chosen, order = order[: spec.diversity_n], order[spec.diversity_n :]
        answers = [{"scenario": d.scenario, "round": 1, "text": d.a1} for d in chosen]
        drafts.append(
            ItemDraft(DIVERSITY, system, character, None, set_index, {"answers": answers})
        )
    return drafts


def assign(
    drafts: Sequence[ItemDraft], names: Sequence[str], overlap: int, rng: random.Random
) -> dict[str, list[ItemDraft]]:
    """Balanced assignment: each item to ``overlap`` distinct, least-loaded annotators."""
    load: Counter[str] = Counter({n: 0 for n in names})
    by_system: dict[str, Counter[str]] = defaultdict(Counter)
    tiebreak = {n: rng.random() for n in names}
    result: dict[str, list[ItemDraft]] = {n: [] for n in names}
    for draft in rng.sample(list(drafts), len(drafts)):
        ranked = sorted(names, key=lambda n: (load[n], by_system[draft.system][n], tiebreak[n]))
        for name in ranked[:overlap]:
            result[name].append(draft)
            load[name] += 1
            by_system[draft.system][name] += 1
        tiebreak = {n: rng.random() for n in names}
    for name in names:
        rng.shuffle(result[name])
    return result


def study_character(spec: StudySpec, slug: str) -> Character:
    """The character of ``slug``: the spec's benchmark cards first, then the built-ins."""
    for char in spec.cards:
        if char.slug == slug:
            return char
    return get_character(slug)


def _cards(spec: StudySpec) -> dict[str, dict[str, Any]]:
    cards = {}
    for slug in spec.characters:
        char = study_character(spec, slug)
        cards[char.slug] = {**char.card(spec.language).model_dump(), "sha256": char.sha256}
    return cards


def _config(spec: StudySpec, seed: int) -> dict[str, Any]:
    return {
        "systems": list(spec.systems),
        "characters": list(spec.characters),
        "scenarios": list(spec.scenarios),
        "overlap": spec.overlap,
        "diversity_sets": spec.diversity_sets,
        "diversity_n": spec.diversity_n,
        "language": spec.language,
        "benchmark": spec.benchmark,
        "seed": seed,
        "rubric": wording.rubric_snapshot(spec.language),
        "cards": _cards(spec),
    }


def create_study(store: Store, spec: StudySpec, dialogues: Iterable[Dialogue]) -> CreatedStudy:
    """Write a study, its item snapshots, annotators and assignments in one transaction."""
    _validate(spec)
    for slug in spec.characters:
        study_character(spec, slug)  # unknown characters fail before anything is written
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    rng = random.Random(seed)
    drafts = build_items(spec, dialogues, rng)
    plan = assign(drafts, spec.annotators, spec.overlap, rng)
    study_id, admin_token, now = new_id(), new_token(), now_iso()
    invites = tuple(Invite(name, new_token()) for name in spec.annotators)
    ensure_schema(store)
    with store.engine.begin() as conn:
        insert_study(
            conn,
            studies,
            study_id=study_id,
            name=spec.name,
            created_at=now,
            config=_config(spec, seed),
            admin_token=admin_token,
            kind="study",
        )
        conn.execute(insert(items), [_item_row(study_id, d) for d in drafts])
        n_assignments = _write_assignments(conn, study_id, invites, plan, now)
    return CreatedStudy(study_id, spec.name, admin_token, invites, len(drafts), n_assignments)


def _item_row(study_id: str, d: ItemDraft) -> dict[str, Any]:
    return {
        "id": d.id,
        "study_id": study_id,
        "kind": d.kind,
        "system": d.system,
        "character": d.character,
        "scenario": d.scenario,
        "set_index": d.set_index,
        "payload_json": json.dumps(d.payload, ensure_ascii=False),
    }


def _write_assignments(
    conn: Connection,
    study_id: str,
    invites: Sequence[Invite],
    plan: dict[str, list[ItemDraft]],
    now: str,
) -> int:
    rows: list[dict[str, Any]] = []
    for invite in invites:
        annotator_id = new_id()
        conn.execute(
            insert(annotators).values(
                id=annotator_id,
                study_id=study_id,
                name=invite.annotator,
                token_hash=hash_token(invite.token),
                created_at=now,
            )
        )
        rows.extend(
            {
                "id": new_id(),
                "study_id": study_id,
                "annotator_id": annotator_id,
                "item_id": d.id,
                "position": pos,
            }
            for pos, d in enumerate(plan[invite.annotator], start=1)
        )
    if rows:
        conn.execute(insert(assignments), rows)
    return len(rows)


def find_study(conn: Connection, ref: str) -> Row[Any]:
    """A study by id or name; DataError naming the known ones otherwise."""
    return find_study_row(conn, studies, ref, "study")


def rotate_invites(store: Store, study: str, names: Sequence[str] = ()) -> list[Invite]:
    """New invite tokens for ``names`` (all annotators if empty); old links stop working.

    Tokens are stored hashed, so a lost link cannot be shown again, only replaced.
    """
    ensure_schema(store)
    with store.engine.begin() as conn:
        row = find_study(conn, study)
        issued = rotate_member_tokens(conn, annotators, row, names, "annotator")
    return [Invite(person.name, token) for person, token in issued]


def rotate_admin_token(store: Store, study: str) -> str:
    """A new admin token for ``study`` (the old one stops working)."""
    return rotate_study_admin_token(store, studies, study, "study")
