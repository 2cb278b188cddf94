"""Rating validation, idempotent storage and export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from chatanime.annotate.ratings import (
    RatingError,
    RatingRecord,
    count_ratings,
    parse_values,
    rating_records,
    save_ratings,
    task_metrics,
    write_ratings,
)
from chatanime.annotate.tables import assignments, ratings
from chatanime.annotate.worklist import annotator_for_token, task_at
from chatanime.judge.rubric import METRICS
from chatanime.store import Store
from tests.annotate.support import make_study


def test_parse_values_accepts_complete_forms_only() -> None:
    metrics = ["fluency", "coherency"]
    assert parse_values({"m_fluency": "1", "m_coherency": "5", "csrf": "x"}, metrics) == {
        "fluency": 1,
        "coherency": 5,
    }
    bad_forms = [
        ({"m_fluency": "1"}, "missing"),
        ({"m_fluency": "0", "m_coherency": "3"}, "1 to 5"),
        ({"m_fluency": "6", "m_coherency": "3"}, "1 to 5"),
        ({"m_fluency": "3.5", "m_coherency": "3"}, "1 to 5"),
        ({"m_fluency": "-1", "m_coherency": "3"}, "1 to 5"),
        ({"m_fluency": "2", "m_coherency": "3", "m_sparkle": "5"}, "unknown metric"),
    ]
    for form, message in bad_forms:
        with pytest.raises(RatingError, match=message):
            parse_values(form, metrics)


def _first_task(store: Store, token: str, position: int = 1):  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        who = annotator_for_token(conn, token)
        assert who is not None
        task = task_at(conn, who, position)
        assert task is not None
    return who, task


def test_double_submit_is_idempotent_and_resubmit_updates(store: Store) -> None:
    created = make_study(store)
    who, task = _first_task(store, created.invites[0].token)
    metrics = task_metrics(task.kind, who.config)
    values = dict.fromkeys(metrics, 4)
    for _ in range(3):
        save_ratings(store.engine, who.id, 1, task.item_id, values, "ok")
    assert count_ratings(store.engine, created.study_id) == len(metrics)
    save_ratings(store.engine, who.id, 1, task.item_id, {**values, metrics[0]: 2}, "")
    with store.engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(ratings.c.metric, ratings.c.value)
                .join(assignments, assignments.c.id == ratings.c.assignment_id)
                .where(assignments.c.annotator_id == who.id)
            ).all()
        )
        done = conn.execute(
            select(assignments.c.completed_at, assignments.c.comment).where(
                assignments.c.annotator_id == who.id, assignments.c.position == 1
            )
        ).one()
    assert stored[metrics[0]] == 2 and stored[metrics[1]] == 4
    assert done.completed_at is not None and done.comment is None


def test_only_the_item_at_ones_own_position(store: Store) -> None:
    created = make_study(store, ("alice", "bob"), overlap=1)
    alice, alice_task = _first_task(store, created.invites[0].token)
    bob, bob_task = _first_task(store, created.invites[1].token)
    values = dict.fromkeys(task_metrics(alice_task.kind, alice.config), 3)
    with pytest.raises(RatingError, match="not assigned"):
        save_ratings(store.engine, bob.id, 1, alice_task.item_id, values)
    with pytest.raises(RatingError, match="not assigned"):
        save_ratings(store.engine, alice.id, 999, alice_task.item_id, values)
    assert count_ratings(store.engine, created.study_id) == 0
    assert bob_task.item_id != alice_task.item_id  # overlap 1: nothing shared


def test_dialogue_and_diversity_tasks_have_their_metrics(store: Store) -> None:
    created = make_study(store, ("alice",), overlap=1, diversity_sets=1)
    who, _ = _first_task(store, created.invites[0].token)
    kinds = set()
    for position in range(1, who.total + 1):
        with store.engine.connect() as conn:
            task = task_at(conn, who, position)
        assert task is not None
        kinds.add(task.kind)
        expected = ["diversity"] if task.kind == "diversity" else list(METRICS)
        assert task_metrics(task.kind, who.config) == expected
    assert kinds == {"dialogue", "diversity"}


def test_export_csv_and_jsonl(store: Store) -> None:
    created = make_study(store, ("alice", "bob"), overlap=2, diversity_sets=0)
    for invite in created.invites:
        who, task = _first_task(store, invite.token)
        values = dict.fromkeys(task_metrics(task.kind, who.config), 5)
        save_ratings(store.engine, who.id, 1, task.item_id, values, '逗号,和"引号"')
    records = rating_records(store, "pilot")
    assert len(records) == 2 * 9
    out = io.StringIO()
    assert write_ratings(records, out, "csv") == 18
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 18 and {r["annotator"] for r in rows} == {"alice", "bob"}
    assert rows[0]["comment"] == '逗号,和"引号"' and rows[0]["system"] in {
        "human",
        "gpt-4.1",
        "deepseek-v3",
    }
    out = io.StringIO()
    write_ratings(records, out, "jsonl")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 18 and all(x["value"] == 5 and x["study"] == "pilot" for x in lines)


def test_records_come_in_item_annotator_metric_order_with_their_comments(store: Store) -> None:
    created = make_study(store, ("alice", "bob"), overlap=2, diversity_sets=1)
    for k, invite in enumerate(created.invites):
        with store.engine.connect() as conn:
            who = annotator_for_token(conn, invite.token)
            assert who is not None
            tasks = [task_at(conn, who, p) for p in range(1, who.total + 1)]
        for task in tasks:
            assert task is not None
            values = {m: 1 + (i + k) % 5 for i, m in enumerate(task_metrics(task.kind, who.config))}
            comment = "看过了" if task.position == 1 else ""
            save_ratings(store.engine, who.id, task.position, task.item_id, values, comment)
    records = rating_records(store, created.study_id)  # by id as well as by name
    per_annotator = 3 * 2 * (3 * len(METRICS) + 1)  # systems x characters x (dialogues + 1 set)
    assert len(records) == 2 * per_annotator
    assert {r.study for r in records} == {"pilot"}

    def key(r: RatingRecord) -> tuple[object, ...]:
        return (r.system, r.character, r.kind, r.scenario or 0, r.set_index or 0, r.annotator,
                r.metric)  # fmt: skip

    assert [key(r) for r in records] == sorted(key(r) for r in records)
    assert {r.comment for r in records if r.position == 1} == {"看过了"}
    assert {r.comment for r in records if r.position != 1} == {""}
    assert all(isinstance(r.value, int) and 1 <= r.value <= 5 for r in records)
    assert {r.kind for r in records if r.scenario is None} == {"diversity"}
