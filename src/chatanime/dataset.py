"""Loading and validating system files (the release's JSON shape, or JSONL).

A system file holds one system's answers: ``{"《作品》的角色": [60 x {dialog_id,
question_r1, answer_r1, question_r2, answer_r2}]}``. The same loader reads the 11
release files, a user's own model output and exported generations, so every
later step sees one kind of :class:`~chatanime.dialogue.Dialogue`.

Every problem is reported as a :class:`~chatanime.errors.DataError` naming the
file, the character and the dialog id, because a researcher fixing a broken
file needs to know *where*, not a traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chatanime.dialogue import Dialogue, TurnSources
from chatanime.errors import DataError
from chatanime.scenarios import normalise_question

FIELDS = ("question_r1", "answer_r1", "question_r2", "answer_r2")
RELEASE_SOURCES = TurnSources()


def system_name(path: Path) -> str:
    """A system is named after its file (``deepseek-v3.json`` -> ``deepseek-v3``)."""
    return path.name.removesuffix(".jsonl").removesuffix(".json")


def _where(path: Path, key: str | None = None, dialog_id: object = None) -> str:
    parts = [path.name]
    if key is not None:
        parts.append(f"character {key!r}")
    if dialog_id is not None:
        parts.append(f"dialog_id {dialog_id}")
    return ", ".join(parts)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = not text.rstrip().endswith(("}", "]"))
        hint = " (the file looks truncated)" if truncated else ""
        raise DataError(
            f"{path.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}{hint}"
        ) from exc


def _record_to_dialogue(
    path: Path, system: str, key: str, slug: str, record: Any, sources: TurnSources
) -> Dialogue:
    if not isinstance(record, dict):
        raise DataError(f"{_where(path, key)}: each dialogue must be an object")
    dialog_id = record.get("dialog_id")
    if isinstance(dialog_id, bool) or not isinstance(dialog_id, int):
        raise DataError(f"{_where(path, key, dialog_id)}: dialog_id must be an integer")
    texts: dict[str, str] = {}
    for field in FIELDS:
        value = record.get(field)
        if not isinstance(value, str) or not value.strip():
            problem = "is missing" if value is None else "must be a non-empty string"
            raise DataError(f"{_where(path, key, dialog_id)}: field {field!r} {problem}")
        texts[field] = value
    return Dialogue(
        system=system,
        character=slug,
        scenario=dialog_id,
        q1=normalise_question(texts["question_r1"]),
        a1=texts["answer_r1"],
        q2=texts["question_r2"],
        a2=texts["answer_r2"],
        sources=sources,
    )


def _dialogues_of_character(
    path: Path, system: str, key: str, slug: str, records: Any, sources: TurnSources
) -> list[Dialogue]:
    if not isinstance(records, list):
        raise DataError(f"{_where(path, key)}: expected a list of dialogues")
    out = [_record_to_dialogue(path, system, key, slug, r, sources) for r in records]
    seen: set[int] = set()
    for d in out:
        if d.scenario in seen:
            raise DataError(f"{_where(path, key, d.scenario)}: duplicate dialog_id")
        seen.add(d.scenario)
    return out


def _jsonl_records(path: Path) -> dict[str, list[Any]]:
    """JSONL: one dialogue per line with a ``character`` field (key or slug)."""
    grouped: dict[str, list[Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path.name}: line {lineno}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not isinstance(row.get("character"), str):
                raise DataError(f"{path.name}: line {lineno}: needs a 'character' string field")
            grouped.setdefault(row["character"], []).append(row)
    return grouped


def load_system_file(
    path: Path,
    slugs: Mapping[str, str],
    *,
    system: str | None = None,
    sources: TurnSources = RELEASE_SOURCES,
) -> list[Dialogue]:
    """Load one system file; ``slugs`` maps release keys (and slugs) to slugs.

    Characters are joined by key, never by position: one release file orders
    its characters differently from the others.
    """
    name = system or system_name(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw: Any = _jsonl_records(path) if path.suffix == ".jsonl" else _read_json(path)
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path.name}: expected an object mapping character keys to dialogues")
    dialogues: list[Dialogue] = []
    for key, records in raw.items():
        slug = slugs.get(key)
        if slug is None:
            raise DataError(f"{_where(path, key)}: unknown character (not in the benchmark)")
        dialogues.extend(_dialogues_of_character(path, name, key, slug, records, sources))
    return dialogues


def check_complete(
    path: Path,
    dialogues: Sequence[Dialogue],
    characters: Mapping[str, str],
    scenario_ids: Iterable[int],
    *,
    require_all: bool = True,
) -> None:
    """Check dialog ids are in range and, with ``require_all``, that every character x
    scenario is present (``characters``: slug -> key). Partial files (a smoke run of a
    new model) pass with ``require_all=False``."""
    wanted = set(scenario_ids)
    by_char: dict[str, set[int]] = {slug: set() for slug in characters}
    for d in dialogues:
        if d.scenario not in wanted:
            raise DataError(
                f"{_where(path, characters.get(d.character), d.scenario)}: "
                f"dialog_id out of range {min(wanted)}-{max(wanted)}"
            )
        by_char.setdefault(d.character, set()).add(d.scenario)
    if not require_all:
        return
    for slug, ids in by_char.items():
        missing = sorted(wanted - ids)
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise DataError(
                f"{_where(path, characters.get(slug, slug))}: missing dialog_id {shown}"
            )


def check_same_questions(
    path: Path, dialogues: Sequence[Dialogue], expected: Mapping[int, str], keys: Mapping[str, str]
) -> None:
    """Round-1 questions are fixed per scenario; a mismatch means a corrupted file."""
    for d in dialogues:
        want = expected.get(d.scenario)
        if want is not None and d.q1 != want:
            raise DataError(
                f"{_where(path, keys.get(d.character, d.character), d.scenario)}: question_r1 "
                f"differs from the scenario's round-1 question"
            )


def write_system_file(dialogues: Iterable[Dialogue], path: Path, keys: Mapping[str, str]) -> Path:
    """Write dialogues in the release's JSON shape (``keys``: slug -> release key).

    Written atomically (temp file + rename) so a killed export never leaves a
    half file that would later fail validation.
    """
    grouped: dict[str, list[dict[str, object]]] = {}
    for d in sorted(dialogues, key=lambda x: (x.character, x.scenario)):
        grouped.setdefault(keys.get(d.character, d.character), []).append(d.to_release_record())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(grouped, handle, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
