"""Study creation: snapshots, balanced blind assignment, hashed tokens."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from chatanime.annotate.security import hash_token
from chatanime.annotate.study import (
    StudySpec,
    create_study,
    find_study,
    parse_scenarios,
    rotate_admin_token,
    rotate_invites,
)
from chatanime.annotate.tables import annotators, assignments, items, studies
from chatanime.annotate.worklist import annotator_for_token
from chatanime.errors import DataError
from chatanime.store import Store
from tests.annotate.support import make_study, synthetic_dialogues


def test_parse_scenarios() -> None:
    assert parse_scenarios("1-3,7, 2,10-11") == (1, 2, 3, 7, 10, 11)
    for bad in ("", "a", "5-3", "1-"):
        with pytest.raises(DataError):
            parse_scenarios(bad)


def test_create_study_writes_snapshots_and_balanced_assignments(store: Store) -> None:
    names = ("alice", "bob", "carol", "dave")
    created = make_study(store, names, scenarios=(1, 2, 3, 4), overlap=2, diversity_sets=2)
    n_dialogue_items = 3 * 2 * 4
    n_diversity = 3 * 2 * 2
    assert created.n_items == n_dialogue_items + n_diversity
    assert created.n_assignments == created.n_items * 2
    with store.engine.connect() as conn:
        rows = conn.execute(select(assignments)).all()
        item_rows = {r.id: r for r in conn.execute(select(items)).all()}
        people = {r.id: r.name for r in conn.execute(select(annotators)).all()}
    per_item = Counter(r.item_id for r in rows)
    assert set(per_item.values()) == {2}
    assert all(len({r.annotator_id for r in rows if r.item_id == i}) == 2 for i in per_item)
    load = Counter(people[r.annotator_id] for r in rows)
    assert max(load.values()) - min(load.values()) <= 1
    for person in people:
        positions = sorted(r.position for r in rows if r.annotator_id == person)
        assert positions == list(range(1, len(positions) + 1))
    # every system reaches every annotator in similar numbers
    for person in people:
        per_sys = Counter(item_rows[r.item_id].system for r in rows if r.annotator_id == person)
        assert max(per_sys.values()) - min(per_sys.values()) <= 2
    # snapshot: the dialogue text is in the item row
    source = {(d.system, d.character, d.scenario): d for d in synthetic_dialogues()}
    for row in item_rows.values():
        payload = json.loads(row.payload_json)
        if row.kind == "dialogue":
            d = source[(row.system, row.character, row.scenario)]
            assert payload == {"q1": d.q1, "a1": d.a1, "q2": d.q2, "a2": d.a2}
        else:
            assert len(payload["answers"]) == 3
            texts = {
                source[(row.system, row.character, a["scenario"])].a1 for a in payload["answers"]
            }
            assert texts == {a["text"] for a in payload["answers"]}


def test_orders_differ_and_ids_are_opaque(sqlite_store: Store) -> None:
    make_study(sqlite_store, ("alice", "bob"), overlap=2, diversity_sets=0)
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(assignments).order_by(assignments.c.position)).all()
    by_person: dict[str, list[str]] = {}
    for r in rows:
        by_person.setdefault(r.annotator_id, []).append(r.item_id)
    first, second = by_person.values()
    assert sorted(first) == sorted(second) and first != second  # same items, own random order
    assert all(not i.isdigit() and len(i) >= 12 for i in first)


def test_tokens_are_stored_hashed(sqlite_store: Store) -> None:
    created = make_study(sqlite_store)
    dump = "\n".join(sqlite_store.engine.raw_connection().driver_connection.iterdump())  # type: ignore[union-attr]
    secrets = [created.admin_token, *(i.token for i in created.invites)]
    assert all(s not in dump for s in secrets)
    assert hash_token(created.admin_token) in dump
    with sqlite_store.engine.connect() as conn:
        for invite in created.invites:
            who = annotator_for_token(conn, invite.token)
            assert who is not None and who.name == invite.annotator
        assert annotator_for_token(conn, created.admin_token) is None
        assert annotator_for_token(conn, "x" * 32) is None


def test_rotating_invites_and_admin_token(sqlite_store: Store) -> None:
    created = make_study(sqlite_store)
    old = {i.annotator: i.token for i in created.invites}
    (fresh,) = rotate_invites(sqlite_store, "pilot", ["bob"])
    with sqlite_store.engine.connect() as conn:
        assert annotator_for_token(conn, old["bob"]) is None
        assert annotator_for_token(conn, fresh.token) is not None
        assert annotator_for_token(conn, old["alice"]) is not None
    new_admin = rotate_admin_token(sqlite_store, created.study_id)
    with sqlite_store.engine.connect() as conn:
        row = find_study(conn, "pilot")
    assert row.admin_token_hash == hash_token(new_admin)
    with pytest.raises(DataError, match="no annotator"):
        rotate_invites(sqlite_store, "pilot", ["mallory"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"overlap": 4}, "overlap"),
        ({"annotators": ("alice", "alice")}, "unique"),
        ({"annotators": ("bad name",)}, "ASCII"),
        ({"scenarios": (1, 99)}, "scenario 99"),
        ({"characters": ("nobody",)}, "unknown character"),
        ({"diversity_sets": 1, "diversity_n": 9}, "diversity"),
    ],
)
def test_bad_specs_are_refused(
    sqlite_store: Store, changes: dict[str, object], message: str
) -> None:
    base = {
        "name": "x",
        "systems": ("human",),
        "characters": ("luffy",),
        "scenarios": (1, 2, 3),
        "annotators": ("alice", "bob", "carol"),
        "overlap": 2,
    }
    spec = StudySpec(**{**base, **changes})  # type: ignore[arg-type]
    with pytest.raises(DataError, match=message):
        create_study(sqlite_store, spec, synthetic_dialogues())
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(studies)).first() is None


def test_study_names_are_unique(sqlite_store: Store) -> None:
    make_study(sqlite_store)
    with pytest.raises(DataError, match="already exists"):
        make_study(sqlite_store)
    with sqlite_store.engine.connect() as conn, pytest.raises(DataError, match="pilot"):
        find_study(conn, "nope")
