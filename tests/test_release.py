"""The downloader against a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from chatanime import release
from chatanime.errors import DataError


class _Handler(BaseHTTPRequestHandler):
    root: Path
    corrupt: ClassVar[set[str]] = set()
    drop: ClassVar[set[str]] = set()
    requests: ClassVar[list[str]] = []
    base_url: ClassVar[str] = ""

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        type(self).requests.append(name)
        path = self.root / name
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if name in self.corrupt:
            body = body.replace("路飞".encode(), "路小".encode(), 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.drop:
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(release_dir: Path) -> Iterator[type[_Handler]]:
    handler = type(
        "H", (_Handler,), {"root": release_dir, "corrupt": set(), "drop": set(), "requests": []}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/data"
    yield handler
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_verifies_every_file(server: type[_Handler], tmp_path: Path) -> None:
    dest = release.download_release(tmp_path / "cache", base_url=server.base_url, progress=False)
    assert _leftovers(dest) == sorted(release.RELEASE_FILES)
    for name in release.RELEASE_FILES:
        assert release.sha256_of(dest / name) == release.CHECKSUMS[name]
    # a second call finds verified files and downloads nothing
    server.requests.clear()
    release.download_release(dest, base_url=server.base_url, progress=False)
    assert server.requests == []


def test_corrupted_file_is_rejected_and_not_kept(server: type[_Handler], tmp_path: Path) -> None:
    server.corrupt.add("human.json")
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"human\.json: checksum mismatch"):
        release.download_release(dest, base_url=server.base_url, progress=False)
    left = _leftovers(dest)
    assert "human.json" not in left
    assert not [n for n in left if n.endswith(".part")]
    # files verified before the failure are kept, so a rerun resumes
    assert "gpt-4.1.json" in left


def test_dropped_connection_leaves_nothing_half_written(
    server: type[_Handler], tmp_path: Path
) -> None:
    server.drop.add("deepseek-v3.json")
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"deepseek-v3\.json: download failed"):
        release.download_release(dest, base_url=server.base_url, progress=False)
    left = _leftovers(dest)
    assert "deepseek-v3.json" not in left
    assert not [n for n in left if n.endswith(".part")]
    server.drop.clear()
    release.download_release(dest, base_url=server.base_url, progress=False)
    assert release.is_complete(dest)


def test_offline_gives_one_sentence_about_local_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(release.DATA_ENV, raising=False)
    monkeypatch.setattr(release, "cache_dir", lambda: tmp_path / "empty-cache")
    monkeypatch.setenv(release.BASE_URL_ENV, "http://127.0.0.1:9/data")  # nothing listens
    with pytest.raises(DataError) as info:
        release.resolve_data_dir(None)
    message = str(info.value)
    assert message == release.OFFLINE_HINT
    assert "--data" in message and release.DATA_ENV in message
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").iterdir())


def test_resolution_order(
    tmp_path: Path, release_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    monkeypatch.setenv(release.DATA_ENV, str(release_dir))
    assert release.resolve_data_dir(explicit) == explicit
    assert release.resolve_data_dir(None) == release_dir
    monkeypatch.delenv(release.DATA_ENV)
    monkeypatch.setattr(release, "cache_dir", lambda: release_dir)
    assert release.resolve_data_dir(None, download=False) == release_dir
    monkeypatch.setattr(release, "cache_dir", lambda: tmp_path / "nothing")
    with pytest.raises(DataError, match="not available offline"):
        release.resolve_data_dir(None, download=False)
    with pytest.raises(DataError, match="no such directory"):
        release.resolve_data_dir(tmp_path / "missing")


def test_pinned_checksums_match_the_shared_copy(release_dir: Path) -> None:
    sums = (release_dir.parent / "SHA256SUMS").read_text().split("\n")
    pinned = dict(reversed(line.split()) for line in sums if line.strip())
    assert pinned == release.CHECKSUMS
