"""The fake server over real HTTP: routes, scripting, stats, faults, concurrency, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from chatanime.backends.fake_server import FakeServer, FakeServerConfig, plugin_modules

CHAT = {"model": "fake/echo", "messages": [{"role": "user", "content": "你好"}]}


def root(server: FakeServer) -> str:
    return server.base_url.removesuffix("/v1")


def test_chat_completion_has_the_openai_shape(fake_server: FakeServer) -> None:
    reply = httpx.post(f"{fake_server.base_url}/chat/completions", json=CHAT)
    assert reply.status_code == 200
    body = reply.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake/echo"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "你好"}
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == 2  # two CJK characters
    assert usage["prompt_tokens"] > usage["completion_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_models_lists_the_builtin_behaviours(fake_server: FakeServer) -> None:
    ids = {m["id"] for m in httpx.get(f"{fake_server.base_url}/models").json()["data"]}
    assert {"fake/actor", "fake/user-sim", "fake/echo"} <= ids


def test_unknown_model_is_404_model_not_found(fake_server: FakeServer) -> None:
    reply = httpx.post(f"{fake_server.base_url}/chat/completions", json={**CHAT, "model": "nope"})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "model_not_found"
    assert fake_server.stats()["by_model"] == {"fake/nope": {"404": 1}}


def test_unknown_route_and_bad_body(fake_server: FakeServer) -> None:
    assert httpx.get(f"{root(fake_server)}/nowhere").status_code == 404
    bad = httpx.post(f"{fake_server.base_url}/chat/completions", content=b"{not json")
    assert bad.status_code == 400


def test_control_endpoints_script_stats_reset(fake_server: FakeServer) -> None:
    base = root(fake_server)
    script = {"model": "fake/echo", "responses": [{"text": "scripted"}, {"fault": "500"}]}
    assert httpx.post(f"{base}/_fake/script", json=script).json() == {"queued": 2}
    url = f"{fake_server.base_url}/chat/completions"
    first, second, third = (httpx.post(url, json=CHAT) for _ in range(3))
    assert first.json()["choices"][0]["message"]["content"] == "scripted"
    assert second.status_code == 500
    assert third.json()["choices"][0]["message"]["content"] == "你好"  # script used up
    stats = httpx.get(f"{base}/_fake/stats").json()
    assert stats["by_model"]["fake/echo"] == {"ok": 2, "500": 1}
    assert stats["requests_by_model"] == {"fake/echo": 3}
    assert stats["repeated_ok"] == 1  # the third request repeated the first
    httpx.post(f"{base}/_fake/reset")
    assert httpx.get(f"{base}/_fake/stats").json()["requests"] == 0


def test_wildcard_script_applies_to_any_model_after_the_models_own(
    fake_server: FakeServer,
) -> None:
    fake_server.script("*", [{"text": "any"}])
    fake_server.script("echo", [{"text": "mine"}])  # "echo" means "fake/echo"
    url = f"{fake_server.base_url}/chat/completions"
    texts = [httpx.post(url, json=CHAT).json()["choices"][0]["message"]["content"] for _ in "ab"]
    assert texts == ["mine", "any"]


def test_invalid_script_is_rejected(fake_server: FakeServer) -> None:
    base = root(fake_server)
    both = {"responses": [{"text": "x", "fault": "500"}]}
    unknown = {"responses": [{"fault": "teapot"}]}
    assert httpx.post(f"{base}/_fake/script", json=both).status_code == 400
    assert httpx.post(f"{base}/_fake/script", json=unknown).status_code == 400


def test_429_carries_retry_after(fake_server: FakeServer) -> None:
    fake_server.script("fake/echo", [{"fault": "429", "retry_after": 7}, {"fault": "429"}])
    url = f"{fake_server.base_url}/chat/completions"
    assert httpx.post(url, json=CHAT).headers["retry-after"] == "7"
    assert httpx.post(url, json=CHAT).headers["retry-after"] == "1"  # the configured default


def test_malformed_and_empty_bodies(fake_server: FakeServer) -> None:
    fake_server.script("fake/echo", [{"fault": "malformed"}, {"fault": "empty"}])
    url = f"{fake_server.base_url}/chat/completions"
    malformed = httpx.post(url, json=CHAT)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    assert httpx.post(url, json=CHAT).json()["choices"] == []


def test_drop_closes_the_connection_without_a_response(fake_server: FakeServer) -> None:
    fake_server.script("fake/echo", [{"fault": "drop"}])
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{fake_server.base_url}/chat/completions", json=CHAT)
    assert fake_server.stats()["by_outcome"] == {"drop": 1}


def test_keep_alive_serves_many_requests_on_one_connection(fake_server: FakeServer) -> None:
    host, port = urlsplit(fake_server.base_url).hostname, urlsplit(fake_server.base_url).port
    body = json.dumps(CHAT).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, port), timeout=5) as sock:
        stream = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(request)
            assert stream.readline().startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                key, value = line.decode().split(":", 1)
                headers[key.lower()] = value.strip()
            assert headers["connection"] == "keep-alive"
            assert json.loads(stream.read(int(headers["content-length"])))["choices"]
    assert fake_server.stats()["by_outcome"] == {"ok": 3}


def test_chunked_request_body(fake_server: FakeServer) -> None:
    body = json.dumps(CHAT).encode()
    chunks = iter([body[:10], body[10:]])
    reply = httpx.post(f"{fake_server.base_url}/chat/completions", content=chunks)
    assert reply.json()["choices"][0]["message"]["content"] == "你好"


def test_api_key_is_enforced_when_configured(
    fake_server_factory: Callable[..., FakeServer],
) -> None:
    server = fake_server_factory(api_key="sekrit")
    url = f"{server.base_url}/chat/completions"
    assert httpx.post(url, json=CHAT).status_code == 401
    ok = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer sekrit"})
    assert ok.status_code == 200


def outcomes(server: FakeServer, n: int) -> list[int]:
    url = f"{server.base_url}/chat/completions"
    with httpx.Client() as client:
        return [client.post(url, json=CHAT).status_code for _ in range(n)]


def test_random_faults_are_seeded(fake_server_factory: Callable[..., FakeServer]) -> None:
    options = {"fault_rate": 0.5, "faults": ("429", "500", "503"), "retry_after_s": 0}
    first = outcomes(fake_server_factory(seed=3, **options), 40)
    again = outcomes(fake_server_factory(seed=3, **options), 40)
    other = outcomes(fake_server_factory(seed=4, **options), 40)
    assert first == again
    assert first != other
    assert {200, 429, 500, 503} == set(first)


def test_config_rejects_unknown_faults() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FakeServerConfig(faults=("429", "boom"))
    with pytest.raises(ValueError, match="fault_rate"):
        FakeServerConfig(fault_rate=2)


async def test_64_requests_are_in_flight_at_once(
    fake_server_factory: Callable[..., FakeServer],
) -> None:
    server = fake_server_factory(latency_ms=300)
    url = urlsplit(server.base_url)
    # Connect first, then send all 64 requests: they must all be held at once (a server
    # handling requests one by one, or one per thread from a small pool, would not).
    connections = await asyncio.gather(
        *(asyncio.open_connection(url.hostname, url.port) for _ in range(64))
    )
    body = json.dumps(CHAT).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    for _, writer in connections:
        writer.write(request)

    async def status(reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        return head.split(b" ")[1]

    statuses = await asyncio.gather(*(status(reader) for reader, _ in connections))
    for _, writer in connections:
        writer.close()
    assert statuses == [b"200"] * 64
    stats = server.stats()
    assert stats["max_in_flight"] == 64
    assert stats["in_flight"] == 0


async def test_stop_cuts_a_slow_reply_and_frees_the_port() -> None:
    server = FakeServer(FakeServerConfig(timeout_sleep_s=60))
    server.start()
    server.script("*", [{"fault": "timeout"}])
    async with httpx.AsyncClient(timeout=60) as client:
        pending = asyncio.create_task(client.post(f"{server.base_url}/chat/completions", json=CHAT))
        while server.stats()["in_flight"] == 0:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.stop)
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/models")


def test_many_servers_start_and_stop() -> None:
    for _ in range(5):
        with FakeServer().running() as url:
            assert httpx.get(f"{url}/models").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/models")


def test_plugins_are_imported_and_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server_factory: Callable[..., FakeServer]
) -> None:
    (tmp_path / "my_fake_plugin.py").write_text(
        "from chatanime.backends.fake_behaviours import register_behaviour\n"
        "register_behaviour('test-plugin', lambda request: 'from the plugin', replace=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    server = fake_server_factory(plugins=("my_fake_plugin",))
    ids = {m["id"] for m in httpx.get(f"{server.base_url}/models").json()["data"]}
    assert "fake/test-plugin" in ids
    reply = httpx.post(
        f"{server.base_url}/chat/completions", json={**CHAT, "model": "fake/test-plugin"}
    )
    assert reply.json()["choices"][0]["message"]["content"] == "from the plugin"
    shipped = plugin_modules()
    assert all(name.startswith("chatanime.backends.fake_") for name in shipped)
    assert not {"fake_server", "fake_behaviours", "fake_wire"} & {
        name.rsplit(".", 1)[1] for name in shipped
    }


async def test_a_reply_the_client_gave_up_on_is_abandoned(fake_server: FakeServer) -> None:
    fake_server.script("fake/echo", [{"fault": "timeout", "sleep_s": 60}])
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{fake_server.base_url}/chat/completions", json=CHAT, timeout=0.2)
    for _ in range(500):  # the hang-up reaches the server thread asynchronously
        if fake_server.stats()["in_flight"] == 0:
            break
        await asyncio.sleep(0.01)
    assert fake_server.stats()["in_flight"] == 0
    assert fake_server.stats()["by_outcome"] == {"timeout": 1}
