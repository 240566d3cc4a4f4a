"""Proxies against a real one: proxy.py (PyPI) as a subprocess, in every binding.

A recorder plugin (``proxy_recorder.py``) writes what the proxy saw, so each
test checks the request really went through it: plain ``http://`` forwarded
with an absolute-form target, ``https://`` and ``wss://`` through ``CONNECT``
with TLS to the origin (the test's own CA, from the ``tls`` block / a patched
context), an SSE stream, ``NO_PROXY``, Basic proxy auth and a 407.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from promptwire._async import driver as async_driver
from promptwire._sync import driver as sync_driver
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import ConfigError, FailureKind, PromptwireError, TransportError

from .certs import Pki, make_pki

BINDINGS = ["sync", "asyncio", "trio"]
ROOT = Path(__file__).resolve().parents[2]


class Proxy:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.record = tmp / "record.txt"
        self.record.write_text("")
        port_file = tmp / "port"
        env = {**os.environ, "PW_PROXY_RECORD": str(self.record),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            env.pop(name, None)
            env.pop(name.upper(), None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
             "--port-file", str(port_file), "--num-acceptors", "1", "--num-workers", "1", "--threaded",
             "--plugins", "tests.bindings.proxy_recorder.Recorder", "--log-level", "WARNING", *extra],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("proxy.py did not start: " + (self.proc.stderr.read() or b"").decode()[-2000:]
                                   if self.proc.stderr else "proxy.py did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def seen(self) -> list[str]:
        return self.record.read_text().splitlines()

    def clear(self) -> None:
        self.record.write_text("")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    server = Proxy(tmp_path_factory.mktemp("proxy"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    server = Proxy(tmp_path_factory.mktemp("auth-proxy"), "--basic-auth", "alice:s3cret-proxy-pw")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def plain() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture(scope="module")
def secure(pki: Pki) -> Iterator[MockServer]:
    with MockServer(tls=pki.server_context()) as server:
        yield server


def _call(binding: str, config: dict[str, Any], env: dict[str, str], *, stream: bool = False) -> Any:
    """One call in ``binding``: the response, or the exception it raised."""
    if binding == "sync":
        try:
            with Target.from_config(config, env=env) as target:
                if stream:
                    return list(target.stream("hi"))
                return target.call("hi")
        except Exception as exc:
            return exc

    async def main() -> Any:
        try:
            target = AsyncTarget.from_config(config, env=env)
            try:
                if stream:
                    return [item async for item in target.stream("hi")]
                return await target.call("hi")
            finally:
                await target.aclose()
        except Exception as exc:
            return exc

    return trio.run(main) if binding == "trio" else asyncio.run(main())


def _http(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": url, "config": {"method": "GET", "timeoutMs": 10000, **extra}}


@pytest.mark.parametrize("binding", BINDINGS)
def test_plain_http_is_forwarded_with_an_absolute_target(binding: str, proxy: Proxy, plain: MockServer) -> None:
    proxy.clear()
    got = _call(binding, _http(f"{plain.base_url}/text?text=via-proxy"), {"HTTP_PROXY": proxy.url})
    assert not isinstance(got, Exception), got
    assert got["output"] == "via-proxy"
    assert f"GET 127.0.0.1:{plain.port} /text?text=via-proxy" in proxy.seen()


@pytest.mark.parametrize("binding", BINDINGS)
def test_https_tunnels_through_connect_with_the_tls_block_ca(binding: str, proxy: Proxy, secure: MockServer,
                                                            pki: Pki) -> None:
    proxy.clear()
    url = f"{secure.base_url}/text?text=tunnelled"
    assert url.startswith("https://")
    got = _call(binding, _http(url, tls={"ca": pki.ca_pem.decode()}), {"HTTPS_PROXY": proxy.url})
    assert not isinstance(got, Exception), got
    assert got["output"] == "tunnelled"
    assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.port}") for line in proxy.seen()), proxy.seen()


@pytest.mark.parametrize("binding", BINDINGS)
def test_https_through_the_proxy_trusts_promptfoo_ca_cert_path(binding: str, proxy: Proxy, secure: MockServer,
                                                               pki: Pki, tmp_path: Path) -> None:
    # promptfoo's recipe for an interceptor: HTTPS_PROXY plus PROMPTFOO_CA_CERT_PATH, no tls block.
    ca = tmp_path / "interceptor-ca.pem"
    ca.write_bytes(pki.ca_pem)
    proxy.clear()
    url = f"{secure.base_url}/text?text=env-ca"
    got = _call(binding, _http(url), {"HTTPS_PROXY": proxy.url, "PROMPTFOO_CA_CERT_PATH": str(ca)})
    assert not isinstance(got, Exception), got
    assert got["output"] == "env-ca"
    assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.port}") for line in proxy.seen()), proxy.seen()
    untrusted = _call(binding, _http(url), {"HTTPS_PROXY": proxy.url})
    assert isinstance(untrusted, PromptwireError) and "certificate" in str(untrusted).lower(), untrusted


@pytest.mark.parametrize("binding", BINDINGS)
def test_an_sse_stream_through_the_tunnel(binding: str, proxy: Proxy, secure: MockServer, pki: Pki) -> None:
    proxy.clear()
    config = _http(f"{secure.base_url}/sse?events=3", tls={"ca": pki.ca_pem.decode()},
                   proxy=proxy.url)  # the per-target option, no environment
    items = _call(binding, config, {}, stream=True)
    assert not isinstance(items, Exception), items
    deltas = [item for item in items if isinstance(item, str)]
    assert len(deltas) >= 1
    assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.port}") for line in proxy.seen())


@pytest.mark.parametrize("binding", BINDINGS)
def test_wss_tunnels_through_connect(binding: str, proxy: Proxy, secure: MockServer, pki: Pki,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # WebSocket targets have no ``tls`` block: trust the test CA in the drivers' context.
    ctx = ssl.create_default_context(cadata=pki.ca_pem.decode())
    for module in (async_driver, sync_driver):
        monkeypatch.setattr(module, "context_for", lambda params: ctx)
    proxy.clear()
    config = {"id": f"{secure.ws_url}/ws/echo-json", "config": {"messageTemplate": "{{prompt}}", "timeoutMs": 10000}}
    assert config["id"].startswith("wss://")
    got = _call(binding, config, {"HTTPS_PROXY": proxy.url})
    assert not isinstance(got, Exception), got
    assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.port}") for line in proxy.seen())


@pytest.mark.parametrize("binding", BINDINGS)
def test_no_proxy_bypasses_the_proxy(binding: str, proxy: Proxy, plain: MockServer) -> None:
    proxy.clear()
    got = _call(binding, _http(f"{plain.base_url}/text?text=direct"),
                {"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.0/8"})
    assert not isinstance(got, Exception), got
    assert got["output"] == "direct"
    assert proxy.seen() == []


@pytest.mark.parametrize("binding", BINDINGS)
def test_basic_proxy_auth_works_for_forwarding_and_tunnels(binding: str, auth_proxy: Proxy, plain: MockServer,
                                                           secure: MockServer, pki: Pki) -> None:
    auth_proxy.clear()
    env = {"HTTP_PROXY": f"http://alice:s3cret-proxy-pw@127.0.0.1:{auth_proxy.port}",
           "HTTPS_PROXY": f"http://alice:s3cret-proxy-pw@127.0.0.1:{auth_proxy.port}"}
    got = _call(binding, _http(f"{plain.base_url}/text?text=authed"), env)
    assert not isinstance(got, Exception), got
    assert got["output"] == "authed"
    got = _call(binding, _http(f"{secure.base_url}/text?text=authed-tls", tls={"ca": pki.ca_pem.decode()}), env)
    assert not isinstance(got, Exception), got
    assert got["output"] == "authed-tls"
    seen = auth_proxy.seen()
    assert f"GET 127.0.0.1:{plain.port} /text?text=authed" in seen
    assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.port}") for line in seen)


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_407_is_a_clear_error_without_the_password(binding: str, auth_proxy: Proxy, secure: MockServer,
                                                     pki: Pki) -> None:
    url = f"{secure.base_url}/text"
    bad = f"http://alice:wrong-proxy-pw@127.0.0.1:{auth_proxy.port}"
    got = _call(binding, _http(url, tls={"ca": pki.ca_pem.decode()}, proxy=bad), {})
    assert isinstance(got, TransportError), got
    assert got.kind is FailureKind.PROXY
    text = str(got)
    assert "407" in text and f"proxy http://127.0.0.1:{auth_proxy.port}" in text
    assert "wrong-proxy-pw" not in text and "alice" not in text


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_refused_proxy_names_the_proxy(binding: str, plain: MockServer) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = _http(f"{plain.base_url}/text", proxy=f"http://bob:pw-never-shown@127.0.0.1:{port}", maxRetries=0)
    got = _call(binding, config, {})
    assert isinstance(got, PromptwireError), got  # RetriesExhausted, after no retries
    assert "connection refused" in str(got)
    assert f"proxy http://127.0.0.1:{port}" in str(got) and "pw-never-shown" not in str(got)


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_tunnel_is_kept_alive_and_reused(binding: str, proxy: Proxy, secure: MockServer, pki: Pki) -> None:
    proxy.clear()
    config = _http(f"{secure.base_url}/text?text=again", tls={"ca": pki.ca_pem.decode()}, proxy=proxy.url)
    if binding == "sync":
        with Target.from_config(config) as target:
            outputs = [target.call("hi")["output"] for _ in range(3)]
    else:
        async def main() -> list[Any]:
            target = AsyncTarget.from_config(config)
            try:
                return [(await target.call("hi"))["output"] for _ in range(3)]
            finally:
                await target.aclose()

        outputs = trio.run(main) if binding == "trio" else asyncio.run(main())
    assert outputs == ["again"] * 3
    assert sum(line.startswith("CONNECT ") for line in proxy.seen()) == 1, proxy.seen()


def test_an_unreadable_promptfoo_ca_cert_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cannot read PROMPTFOO_CA_CERT_PATH \(resolved to /nope/ca.pem\)"):
        Target.from_config(_http("https://x.test/"), env={"PROMPTFOO_CA_CERT_PATH": "/nope/ca.pem"})
