"""The study row both kinds of study share: write it, find it, rotate its tokens.

Rating studies (``annotate_studies``) and collection studies (``collect_studies``) keep the
same columns in their study row (:func:`chatanime.annotate.tables.study_columns`) and address
their people (annotators, respondents) by a secret token stored only as a hash, so creating
the row, looking a study up by id or name and replacing tokens are one piece of logic,
parameterised by the tables and the word the error messages use for the study.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, insert, or_, select, update

from chatanime.annotate import ensure_schema
from chatanime.annotate.security import hash_token, new_key, new_token
from chatanime.errors import DataError
from chatanime.store import Store


def now_iso() -> str:
    """A timestamp as stored in every ``*_at`` column of the web app's tables."""
    return datetime.now(UTC).isoformat()


def insert_study(
    conn: Connection,
    table: Table,
    *,
    study_id: str,
    name: str,
    created_at: str,
    config: Mapping[str, Any],
    admin_token: str,
    kind: str,
) -> None:
    """Write the study row (a fresh HMAC key; the admin token only as a hash).

    ``kind`` (``study``, ``collection study``) names the study in the error for a taken name.
    """
    if conn.execute(select(table.c.id).where(table.c.name == name)).first():
        raise DataError(f"a {kind} named {name!r} already exists in this store")
    conn.execute(
        insert(table).values(
            id=study_id,
            name=name,
            created_at=created_at,
            config_json=json.dumps(dict(config), ensure_ascii=False),
            admin_token_hash=hash_token(admin_token),
            secret_key=new_key(),
        )
    )


def find_study_row(conn: Connection, table: Table, ref: str, kind: str) -> Row[Any]:
    """A study by id or name; DataError naming the known ones otherwise."""
    row = conn.execute(select(table).where(or_(table.c.id == ref, table.c.name == ref))).first()
    if row is None:
        known = ", ".join(conn.execute(select(table.c.name)).scalars()) or "none"
        raise DataError(f"no {kind} {ref!r} in this store (studies: {known})")
    return row


def rotate_member_tokens(
    conn: Connection, members: Table, study: Row[Any], names: Sequence[str], noun: str
) -> list[tuple[Row[Any], str]]:
    """New tokens for the study's ``members`` named ``names`` (all, by name, if empty).

    Returns each member's row with its new token; old tokens stop working. ``noun``
    (``annotator``, ``respondent``) names a member in the error for an unknown name.
    """
    people = conn.execute(
        select(members).where(members.c.study_id == study.id).order_by(members.c.name)
    ).all()
    known = {p.name: p for p in people}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"study {study.name!r} has no {noun} {unknown[0]!r}")
    issued = []
    for name in names or list(known):
        token = new_token()
        conn.execute(
            update(members)
            .where(members.c.id == known[name].id)
            .values(token_hash=hash_token(token))
        )
        issued.append((known[name], token))
    return issued


def rotate_admin_token(store: Store, table: Table, ref: str, kind: str) -> str:
    """A new admin token for the study ``ref`` (the old one stops working)."""
    ensure_schema(store)
    token = new_token()
    with store.engine.begin() as conn:
        row = find_study_row(conn, table, ref, kind)
        conn.execute(
            update(table).where(table.c.id == row.id).values(admin_token_hash=hash_token(token))
        )
    return token
