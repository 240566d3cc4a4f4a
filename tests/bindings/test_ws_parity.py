"""WebSocket parity with HTTP through every binding, against real loopback servers.

``wss://`` with a client certificate from the ``tls`` block against a server
that requires one; bearer and OAuth on the handshake (the mock's token
endpoint); a handshake refused with 429 and retried after its Retry-After.
"""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from promptwire.api import Target
from promptwire.mock import MockServer
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request, TextMessage

from sansio_core.call import Call
from sansio_core.errors import HttpStatusError, PromptwireError
from sansio_core.sources import Sources
from sansio_core.ws.flow import WsTarget

from .certs import Pki, make_pki

FAST = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}


def ws(url: str, **config: Any) -> WsTarget:
    cfg = {"messageTemplate": '{"prompt": {{ prompt | dump }}}', "timeoutMs": 10000, **config}
    return WsTarget.compile(url, cfg, Sources(), FAST)


def calls(target: WsTarget, *prompts: str, vars: dict[str, Any] | None = None) -> Any:
    def make(backend: Any) -> list[Call]:
        return [target.new_call(p, vars or {}, None, now=backend.now(), seed=i) for i, p in enumerate(prompts)]
    return make


# -- a client certificate the server requires ----------------------------------------


def _client_identity() -> tuple[bytes, bytes, bytes]:
    """(client CA PEM, client certificate PEM, client key PEM), made for this run."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "promptwire client CA")])
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "promptwire client")]))
            .issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def client() -> tuple[bytes, bytes, bytes]:
    return _client_identity()


@pytest.fixture(scope="module")
def mtls_mock(pki: Pki, client: tuple[bytes, bytes, bytes]) -> Iterator[MockServer]:
    ctx = pki.server_context()
    ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
    ctx.load_verify_locations(cadata=client[0].decode())
    with MockServer(tls=ctx) as server:
        yield server


def test_wss_with_a_client_certificate_from_the_tls_block(runner: Any, mtls_mock: MockServer, pki: Pki,
                                                          client: tuple[bytes, bytes, bytes]) -> None:
    tls = {"ca": pki.ca_pem.decode(), "cert": client[1].decode(), "key": client[2].decode()}
    target = ws(f"{mtls_mock.ws_url}/ws/echo-json?m={runner.name}", tls=tls, transformResponse="data.reply")
    assert target.config.url is None and mtls_mock.ws_url.startswith("wss://")
    (result,) = runner.run(calls(target, "hi"))
    assert not isinstance(result, Exception), result
    assert result["output"] == "Echo: hi"
    assert any(r.kind == "websocket" and f"m={runner.name}" in r.target for r in mtls_mock.snapshot())


def test_the_same_identity_from_a_pfx_bundle(runner: Any, mtls_mock: MockServer, pki: Pki,
                                            client: tuple[bytes, bytes, bytes]) -> None:
    cert = x509.load_pem_x509_certificate(client[1])
    key = serialization.load_pem_private_key(client[2], None)
    bundle = pkcs12.serialize_key_and_certificates(b"c", key, cert, None,  # type: ignore[arg-type]
                                                   serialization.BestAvailableEncryption(b"pw"))
    tls = {"ca": pki.ca_pem.decode(), "pfx": base64.b64encode(bundle).decode(), "passphrase": "pw"}
    (result,) = runner.run(calls(ws(f"{mtls_mock.ws_url}/ws/echo-json", tls=tls, transformResponse="data.reply"),
                                 "pfx"))
    assert not isinstance(result, Exception), result
    assert result["output"] == "Echo: pfx"


def test_without_the_client_certificate_the_server_refuses(runner: Any, mtls_mock: MockServer,
                                                           pki: Pki) -> None:
    target = ws(f"{mtls_mock.ws_url}/ws/echo-json", tls={"ca": pki.ca_pem.decode()}, maxRetries=0)
    (result,) = runner.run(calls(target, "hi"))
    assert isinstance(result, PromptwireError), result


# -- auth on the handshake -------------------------------------------------------------


def _seen(mock: MockServer, tag: str) -> list[dict[str, str]]:
    return [{k.lower(): v for k, v in r.headers} for r in mock.snapshot()
            if r.kind == "websocket" and tag in r.target]


def test_bearer_on_the_handshake(runner: Any, mock: MockServer) -> None:
    tag = f"bearer-{runner.name}"
    target = ws(f"{mock.ws_url}/ws/echo-json?t={tag}", auth={"type": "bearer", "token": "tok-{{ who }}"})
    (result,) = runner.run(calls(target, "hi", vars={"who": runner.name}))
    assert not isinstance(result, Exception), result
    (headers,) = _seen(mock, tag)
    assert headers["authorization"] == f"Bearer tok-{runner.name}"


def test_api_key_in_the_query(runner: Any, mock: MockServer) -> None:
    tag = f"apikey-{runner.name}"
    target = ws(f"{mock.ws_url}/ws/echo-json?t={tag}",
                auth={"type": "api_key", "keyName": "key", "value": "k-1", "placement": "query"})
    (result,) = runner.run(calls(target, "hi"))
    assert not isinstance(result, Exception), result
    seen = [r for r in mock.snapshot() if r.kind == "websocket" and tag in r.target]
    assert seen and ("key", "k-1") in seen[0].query


def test_oauth_token_on_the_handshake_fetched_once(runner: Any, mock: MockServer) -> None:
    tag = f"oauth-{runner.name}"
    auth = {"type": "oauth", "grantType": "client_credentials", "tokenUrl": f"{mock.base_url}/oauth/token",
            "clientId": f"client-{runner.name}", "clientSecret": "shh-secret"}
    target = ws(f"{mock.ws_url}/ws/echo-json?t={tag}", auth=auth)
    before = sum(1 for r in mock.snapshot() if r.path == "/oauth/token")
    results = runner.run(calls(target, "one", "two", "three"))
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(1 for r in mock.snapshot() if r.path == "/oauth/token") == before + 1  # the token cache
    seen = _seen(mock, tag)
    assert len(seen) == 3
    tokens = {h["authorization"] for h in seen}
    assert len(tokens) == 1 and tokens.pop().startswith("Bearer mock-token-")


# -- a refused handshake, retried --------------------------------------------------------


class FlakyWsServer:
    """Refuses the first ``refuse`` handshakes with 429 (Retry-After: 1), then echoes one message."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.handshakes: list[float] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._sock.getsockname()[1]}/chat"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        ws_conn = WSConnection(ConnectionType.SERVER)
        conn.settimeout(10)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws_conn.receive_data(data)
                for event in ws_conn.events():
                    if isinstance(event, Request):
                        self.handshakes.append(time.monotonic())
                        if len(self.handshakes) <= self.refuse:
                            conn.sendall(ws_conn.send(RejectConnection(
                                status_code=429, headers=[(b"retry-after", b"1")], has_body=True))
                                + ws_conn.send(RejectData(data=b"slow down", body_finished=True)))
                            return
                        conn.sendall(ws_conn.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        conn.sendall(ws_conn.send(TextMessage(data="ok: " + event.data)))

    def close(self) -> None:
        self._sock.close()


def test_a_handshake_429_is_retried_after_retry_after(runner: Any) -> None:
    server = FlakyWsServer(refuse=1)
    try:
        (result,) = runner.run(calls(ws(server.url, messageTemplate="{{ prompt }}", maxRetries=2), "hi"))
    finally:
        server.close()
    assert not isinstance(result, Exception), result
    assert result["output"] == "ok: hi"
    assert len(server.handshakes) == 2
    assert server.handshakes[1] - server.handshakes[0] >= 0.9


def test_a_handshake_refused_every_time_ends_with_the_status(runner: Any, mock: MockServer) -> None:
    tag = f"reject-{runner.name}"
    target = ws(f"{mock.ws_url}/ws/reject?status=503&t={tag}", maxRetries=2)
    (result,) = runner.run(calls(target, "hi"))
    assert isinstance(result, HttpStatusError) and result.status == 503, result
    assert len(_seen(mock, tag)) == 3  # the first attempt and two retries, counted at the server


def test_tls_files_through_the_public_api(mtls_mock: MockServer, pki: Pki, client: tuple[bytes, bytes, bytes],
                                          tmp_path: Any) -> None:
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem)
    (tmp_path / "client.pem").write_bytes(client[1])
    (tmp_path / "client.key").write_bytes(client[2])
    entry = {"id": f"{mtls_mock.ws_url}/ws/echo-json", "config": {
        "messageTemplate": '{"prompt": {{ prompt | dump }}}', "transformResponse": "data.reply",
        "tls": {"caPath": "ca.pem", "certPath": "client.pem", "keyPath": "client.key"}}}
    with Target.from_config(entry, base_dir=tmp_path) as target:
        assert target.call("files").output == "Echo: files"
