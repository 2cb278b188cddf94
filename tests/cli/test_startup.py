"""Starting the CLI loads no heavy library: registering every command and printing any
``--help`` must not import what only a command's body needs (see ``cli/__init__.py``).

Each check runs in a fresh interpreter, since this test process has long imported them all.
Speed itself is measured by ``bench/bench_cli_startup.py``, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "scipy",
    "pandas",
    "openai",
    "sqlalchemy",
    "fastapi",
    "numpy",
    "jieba",
    "anthropic",
    "pyarrow",
    "httpx",
)
"""Not pydantic: typer itself loads it to convert option values (any sub-command's --help)."""

# Prints, as JSON, which HEAVY modules the code before it loaded (and nothing else).
REPORT = "import json, sys; print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"

REGISTER = """
import typer
import chatanime.cli as cli
typer.main.get_command(cli.build_app())  # builds every command: evaluates its options
"""

# Every command and sub-command's --help, through the console-script entry point.
ALL_HELP = """
import typer
import chatanime.cli as cli
paths = [[]]
for path in paths:
    group = typer.main.get_command(cli.build_app())
    for name in path:
        group = group.commands[name]
    paths += [[*path, name] for name in sorted(getattr(group, "commands", {}))]
    try:
        cli.main([*path, "--help"])
    except SystemExit as exc:
        assert exc.code == 0, (path, exc.code)
print(len(paths), file=sys.stderr)
"""


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        check=False,
    )


def _heavy_loaded_by(code: str) -> list[str]:
    proc = _python("import sys\n" + code + "\n" + REPORT.format(heavy=HEAVY))
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def test_the_probe_sees_a_heavy_import() -> None:
    """The checks below can fail: a library imported on the way is noticed."""
    assert _heavy_loaded_by("import numpy") == ["numpy"]


def test_registering_every_command_imports_no_heavy_library() -> None:
    assert _heavy_loaded_by(REGISTER) == []


def test_root_help_imports_no_heavy_library() -> None:
    code = "import chatanime.cli as cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit: pass"
    assert _heavy_loaded_by(code) == []


def test_every_command_help_imports_no_heavy_library() -> None:
    proc = _python("import sys\n" + ALL_HELP + REPORT.format(heavy=HEAVY))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    assert int(proc.stderr.strip().splitlines()[-1]) >= 30  # it did walk the whole tree


def test_openblas_threads_are_set_before_numpy_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = (
        "import os, sys, chatanime.cli\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False"]


def test_an_explicit_openblas_setting_is_kept() -> None:
    code = "import os, chatanime.cli\nprint(os.environ['OPENBLAS_NUM_THREADS'])"
    assert _python(code, env={"OPENBLAS_NUM_THREADS": "2"}).stdout.strip() == "2"


def test_a_configuration_error_from_a_command_is_one_sentence(tmp_path: Path) -> None:
    """``ConfigurationError`` is imported only on failure; it still exits 2, no traceback."""
    args = ["--model", "nosuch/x", "--user-sim", "fake/user-sim", "--name", "t", "--limit", "1"]
    store = f"sqlite:///{tmp_path / 'store.db'}"
    code = (
        "import chatanime.cli as cli\n"
        f"cli.main(['generate', *{args!r}, '--store', {store!r}, '--no-progress'])"
    )
    proc = _python(code, env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert proc.returncode == 2, proc.stderr
    assert "Unknown provider 'nosuch'" in proc.stderr
    assert "Traceback" not in proc.stderr
