"""`chatanime data ...` and `chatanime characters` as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "chatanime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_data_info_lists_11_systems(release_dir: Path) -> None:
    proc = run("data", "info", "--data", str(release_dir))
    assert proc.returncode == 0, proc.stderr
    assert "11 systems" in proc.stdout
    assert "2400/2400" in proc.stdout
    assert proc.stdout.count("2400") >= 11


def test_data_show_prints_dialogue_and_card(release_dir: Path) -> None:
    proc = run(
        "data",
        "show",
        "--system",
        "human",
        "--character",
        "luffy",
        "--scenario",
        "6",
        "--data",
        str(release_dir),
    )
    assert proc.returncode == 0, proc.stderr
    assert "他们课题组氛围真好" in proc.stdout
    assert "路飞" in proc.stdout and "office" not in proc.stdout


def test_bad_file_exits_2_without_traceback(release_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "data"
    shutil.copytree(release_dir, bad)
    text = (release_dir / "human.json").read_text(encoding="utf-8")
    (bad / "human.json").write_text(text[:5000], encoding="utf-8")
    proc = run("data", "info", "--data", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "human.json: invalid JSON" in proc.stderr


def test_export_jsonl(release_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    proc = run(
        "data",
        "export",
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--systems",
        "human",
        "--data",
        str(release_dir),
    )
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1200
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["system"] == "human"


def test_characters_show_luffy() -> None:
    proc = run("characters", "show", "luffy")
    assert proc.returncode == 0, proc.stderr
    assert "蒙奇·D·路飞" in proc.stdout
    listing = run("characters")
    assert listing.returncode == 0 and listing.stdout.count("《") >= 20
