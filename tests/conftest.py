"""Shared fixtures. Each area keeps its fixtures in a plugin module under tests/plugins/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.plugins.fake",
    "tests.plugins.services",
    "tests.plugins.store",
]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def release_dir() -> Path:
    """The ChatAnime release as laid out beside the checkout (CI has it too)."""
    candidates = [
        os.environ.get("CHATANIME_TEST_DATA", ""),
        str(REPO.parent / "shared/chatanime/data"),
    ]
    for cand in candidates:
        if cand and (Path(cand) / "human.json").exists():
            return Path(cand)
    pytest.fail("the ChatAnime release is missing: expected ../shared/chatanime/data")
