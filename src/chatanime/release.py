"""Finding the ChatAnime release, or fetching it: pinned commit, sha256, atomic writes.

Resolution order: an explicit directory, then ``CHATANIME_DATA``, then the user
cache directory, then a download from GitHub at the pinned commit. Each file is
checked against the pinned sha256 before it is moved into the cache, so the
cache only ever holds verified files (a corrupted or interrupted download
leaves nothing behind).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import platformdirs
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from chatanime.errors import DataError

REPOSITORY = "LanlanQiu/ChatAnime"
COMMIT = "2169710041b1130b79530be610c0adef886f96fb"
DATA_ENV = "CHATANIME_DATA"
BASE_URL_ENV = "CHATANIME_RELEASE_URL"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/data"

# sha256 of the 11 release files at COMMIT.
CHECKSUMS: dict[str, str] = {
    "claude-sonnet-4.json": "71de7e1fa17440d086ed4e74adaabdc47cf97a45c1deb37b3b6dc0822a984c48",
    "deepseek-v3.json": "48748def1ea8695c4bc5a71e8d54169f601daf3705e21e90a04a93fb2948861d",
    "doubao-1.5-pro.json": "fe99a1a0843258d9084156448f65c56bd94aeb3d5ca6d1693b8ca8bc00107565",
    "doubao-rp.json": "bb3feb3264be65381d9172ed30972826b27cc5e23efcf98e80c66085f786ba17",
    "gemini-2.5-flash-preview.json": (
        "3ebad2020babba7010d6d2f48d938effff88ef46df79680419944cb17d8c72ca"
    ),
    "glm-4-plus.json": "0cc2a13119d5eb5571112182f736aa87704ff3bee9454080d60d761a2f3ea31d",
    "gpt-4.1.json": "95b43e8556876aebcd9d5c3a0288f10f8f70e5950d9f0b6aea0cdcded3f1c44c",
    "human.json": "ced8058c3ba2934df7dfdf520e82747be87c4d0eefa7a910af28681d09ccf7c9",
    "minimax-abab6.5s.json": "ef174833970b469670537f3005545f623ad6e1cae43f23abc745f16a0cffa727",
    "qwen-max.json": "d3af8ad44fd9010067d62392db587067ce18873722a723a8304291c25dd535ab",
    "xingchen-plus-v2.json": "34d0df67e35ee7e83da455694bca17694cbd98a901aa894919648a4cb5996a68",
}
RELEASE_FILES = tuple(sorted(CHECKSUMS))
OFFLINE_HINT = (
    "The ChatAnime release is not available offline: download it yourself from "
    f"github.com/{REPOSITORY} (commit {COMMIT[:10]}) and pass --data DIR or set "
    f"{DATA_ENV}=DIR to the folder holding its data/*.json files."
)


def cache_dir() -> Path:
    """Where verified release files are kept between runs."""
    return Path(platformdirs.user_cache_dir("chatanime")) / "release" / COMMIT[:12]


def is_complete(folder: Path) -> bool:
    """True when every release file is present (content is checked on load)."""
    return all((folder / name).is_file() for name in RELEASE_FILES)


def resolve_data_dir(explicit: Path | None = None, *, download: bool = True) -> Path:
    """The folder holding the release, fetching it into the cache if needed."""
    if explicit is not None:
        if not explicit.is_dir():
            raise DataError(f"--data {explicit}: no such directory")
        return explicit
    env = os.environ.get(DATA_ENV)
    if env:
        folder = Path(env).expanduser()
        if not folder.is_dir():
            raise DataError(f"{DATA_ENV}={env}: no such directory")
        return folder
    cached = cache_dir()
    if is_complete(cached):
        return cached
    if not download:
        raise DataError(OFFLINE_HINT)
    return download_release(cached)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_one(
    client: httpx.Client, url: str, dest: Path, expected: str, advance: Callable[[int], None]
) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as handle, client.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                handle.write(chunk)
                digest.update(chunk)
                advance(len(chunk))
        if digest.hexdigest() != expected:
            raise DataError(
                f"{dest.name}: checksum mismatch (expected sha256 {expected[:16]}…, got "
                f"{digest.hexdigest()[:16]}…); the download was discarded"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_release(
    dest: Path | None = None, *, base_url: str | None = None, progress: bool = True
) -> Path:
    """Download the 11 files at the pinned commit into ``dest`` (verified, atomic)."""
    target = dest or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with (
        Progress(*columns, TransferSpeedColumn(), disable=not progress, transient=True) as bar,
        httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True) as client,
    ):
        for name in RELEASE_FILES:
            final = target / name
            if final.is_file() and sha256_of(final) == CHECKSUMS[name]:
                continue
            task = bar.add_task(name, total=None)
            try:
                _fetch_one(
                    client,
                    f"{base}/{name}",
                    final,
                    CHECKSUMS[name],
                    functools.partial(bar.advance, task),
                )
            except httpx.ConnectError as exc:
                raise DataError(OFFLINE_HINT) from exc
            except httpx.HTTPError as exc:
                raise DataError(
                    f"{name}: download failed ({type(exc).__name__}: {exc}); nothing was kept, "
                    "run the command again to resume"
                ) from exc
    return target
