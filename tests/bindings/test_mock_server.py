"""The mock server seen from the outside: stdlib HTTP clients, raw sockets and a wsproto client."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import http.client
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from promptwire import Target
from promptwire.mock import MockServer, NotLoopbackError, main_mock, serve
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from .certs import make_pki

TIMEOUT = 5.0


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as srv:
        yield srv


def get(server: MockServer, target: str, method: str = "GET", body: Any = None,
        headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    conn.request(method, target, body=data, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response, payload


def raw_exchange(server: MockServer, request: bytes) -> bytes:
    """Send raw bytes and read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        out = b""
        sock.settimeout(0.5)
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return out
            if not data:
                return out
            out += data


def dechunk(raw_body: bytes) -> list[bytes]:
    """The chunks of a chunked body, as the server wrote them."""
    chunks = []
    rest = raw_body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    return chunks


def sse_data(body: bytes) -> list[str]:
    return [line[len("data: "):] for line in body.decode().splitlines() if line.startswith("data: ")]


# ---------------------------------------------------------------- OpenAI chat


def test_chat_completion_echoes_last_user_message_with_usage(server: MockServer) -> None:
    request = {"model": "gpt-test", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "what is up"}]},
    ]}
    response, body = get(server, "/v1/chat/completions", "POST", request,
                         {"content-type": "application/json"})
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "gpt-test"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Echo: what is up",
                                               "refusal": None}
    assert answer["usage"] == {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}
    # Deterministic: the same request gets the same bytes.
    assert get(server, "/v1/chat/completions", "POST", request)[1] == body


def test_chat_completion_stream_is_openai_sse_ending_in_done(server: MockServer) -> None:
    request = {"model": "m", "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "stream me please"}]}
    response, body = get(server, "/v1/chat/completions", "POST", request)
    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream"
    assert response.getheader("transfer-encoding") == "chunked"
    data = sse_data(body)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Echo: stream me please"
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"


def test_chat_completion_rejects_bad_requests(server: MockServer) -> None:
    response, body = get(server, "/v1/chat/completions", "POST", b"not json")
    assert response.status == 400
    assert "JSON object" in json.loads(body)["error"]["message"]
    response, _ = get(server, "/v1/chat/completions", "GET")
    assert response.status == 405
    assert response.getheader("allow") == "POST"


# ---------------------------------------------------------------- basics


def test_keep_alive_serves_many_requests_on_one_connection(server: MockServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    peers = set()
    for i in range(3):
        conn.request("GET", f"/text?text=hello{i}")
        response = conn.getresponse()
        assert response.read() == f"hello{i}".encode()
        assert conn.sock is not None
        peers.add(conn.sock.getsockname())
    conn.close()
    assert len(peers) == 1


def test_text(server: MockServer) -> None:
    response, body = get(server, "/text")
    assert response.status == 200
    assert response.getheader("content-type") == "text/plain; charset=utf-8"
    assert body == b"Hello from the promptwire mock server"


def test_echo_returns_the_request_as_received(server: MockServer) -> None:
    raw = (b"PUT /echo/sub?b=2&a=1&a=%20x HTTP/1.1\r\nHost: example.test\r\nX-Custom: One\r\n"
           b"x-custom: two\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"k\": [1, 2]}")
    out = raw_exchange(server, raw)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    echoed = json.loads(body)
    assert echoed == {
        "method": "PUT",
        "target": "/echo/sub?b=2&a=1&a=%20x",
        "path": "/echo/sub",
        "query": [["b", "2"], ["a", "1"], ["a", " x"]],
        "headers": [["Host", "example.test"], ["X-Custom", "One"], ["x-custom", "two"],
                    ["Content-Type", "application/json"], ["Content-Length", "13"]],
        "body": '{"k": [1, 2]}',
        "json": {"k": [1, 2]},
        "http_version": "1.1",
    }


def test_echo_of_a_non_json_body_has_null_json(server: MockServer) -> None:
    _, body = get(server, "/echo", "POST", b"a=1&b=2", {"content-type": "application/x-www-form-urlencoded"})
    echoed = json.loads(body)
    assert echoed["body"] == "a=1&b=2"
    assert echoed["json"] is None


@pytest.mark.parametrize(("target", "status_line"), [
    ("/status/503", b"HTTP/1.1 503 Service Unavailable\r\n"),
    ("/status/503?reason=Overloaded", b"HTTP/1.1 503 Overloaded\r\n"),
    ("/status/503?reason=", b"HTTP/1.1 503 \r\n"),
    ("/status/418", b"HTTP/1.1 418 I'm a Teapot\r\n"),
    ("/status/299", b"HTTP/1.1 299 \r\n"),
])
def test_status_line_carries_the_chosen_reason(server: MockServer, target: str, status_line: bytes) -> None:
    out = raw_exchange(server, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert out.startswith(status_line)


def test_status_body_and_headers_are_settable(server: MockServer) -> None:
    response, body = get(server, "/status/429?body=slow%20down&header=Retry-After:%207")
    assert response.status == 429
    assert response.reason == "Too Many Requests"
    assert response.getheader("retry-after") == "7"
    assert response.getheader("content-type") == "text/plain; charset=utf-8"
    assert body == b"slow down"
    response, body = get(server, "/status/500")
    assert json.loads(body) == {"status": 500, "reason": "Internal Server Error"}


def test_head_gets_headers_without_body(server: MockServer) -> None:
    response, body = get(server, "/text", "HEAD")
    assert response.status == 200
    assert response.getheader("content-length") == "37"
    assert body == b""


def test_expect_100_continue_is_answered(server: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hi")
        answer = b""
        while b'"http_version"' not in answer:
            answer += sock.recv(65536)
        assert b'"body":"hi"' in answer


def test_unknown_path_and_bad_parameter(server: MockServer) -> None:
    response, body = get(server, "/nope")
    assert response.status == 404
    assert "/nope" in json.loads(body)["error"]["message"]
    response, body = get(server, "/sse?events=many")
    assert response.status == 400
    assert "events" in json.loads(body)["error"]["message"]
    response, _ = get(server, "/sse?events=100000000")
    assert response.status == 400


def test_requests_are_recorded(server: MockServer) -> None:
    get(server, "/echo?mark=recorded-1", "POST", {"x": 1}, {"X-Mark": "yes"})
    seen = [r for r in server.snapshot() if r.target == "/echo?mark=recorded-1"]
    assert len(seen) == 1
    assert seen[0].method == "POST"
    assert seen[0].header("x-mark") == "yes"
    assert json.loads(seen[0].body) == {"x": 1}


def test_session_id_in_header_and_body(server: MockServer) -> None:
    response, body = get(server, "/session", "POST", {"prompt": "hello"})
    first = json.loads(body)
    session_id = response.getheader("x-session-id") or ""
    assert first == {"sessionId": session_id, "turn": 1, "output": "Echo: hello"}
    response, body = get(server, "/session", "POST", {"prompt": "again"}, {"x-session-id": session_id})
    assert json.loads(body) == {"sessionId": session_id, "turn": 2, "output": "Echo: again"}


# ---------------------------------------------------------------- streams


def test_sse_events_and_done(server: MockServer) -> None:
    _, body = get(server, "/sse?events=3")
    data = sse_data(body)
    assert data[-1] == "[DONE]"
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[:-1])
    assert text == "tok0 tok1 tok2 "


def test_sse_line_endings_and_no_done(server: MockServer) -> None:
    _, body = get(server, "/sse?events=1&eol=crlf&done=0")
    assert body.count(b"\r\n\r\n") == 3
    assert b"[DONE]" not in body


def test_sse_delays_between_events(server: MockServer) -> None:
    started = time.monotonic()
    get(server, "/sse?events=2&delay_ms=50")
    assert time.monotonic() - started >= 0.15  # role, 2 content, finish, done: 4 gaps of 50 ms


def test_ndjson_writes_split_lines_in_the_middle(server: MockServer) -> None:
    out = raw_exchange(server, b"GET /ndjson?lines=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, raw_body = out.partition(b"\r\n\r\n")
    assert b"content-type: application/x-ndjson" in head
    chunks = dechunk(raw_body)
    assert len(chunks) == 4
    assert not any(chunk.endswith(b"\n") for chunk in chunks[:-1])
    lines = b"".join(chunks).splitlines()
    assert [json.loads(line) for line in lines] == [{"index": i, "content": f"tok{i} "} for i in range(3)]


def test_anthropic_stream_events(server: MockServer) -> None:
    body = {"model": "claude", "messages": [{"role": "user", "content": "hi claude"}], "stream": True}
    response, raw = get(server, "/anthropic/stream", "POST", body)
    assert response.getheader("content-type") == "text/event-stream"
    names = [line[len("event: "):] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    events = [json.loads(d) for d in sse_data(raw)]
    assert [e["type"] for e in events] == names
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "Echo: hi claude"


# ---------------------------------------------------------------- faults


def test_slow_answers_late(server: MockServer) -> None:
    started = time.monotonic()
    _, body = get(server, "/slow?delay_ms=200")
    assert time.monotonic() - started >= 0.2
    assert json.loads(body) == {"output": "slow answer", "delay_ms": 200}


def test_drop_closes_without_answering(server: MockServer) -> None:
    assert raw_exchange(server, b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    with pytest.raises(http.client.RemoteDisconnected):
        get(server, "/drop")


def test_drop_with_reset_sends_rst(server: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /drop?reset=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)


def test_drop_mid_body(server: MockServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/drop-mid-body")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert 0 < len(info.value.partial) < int(response.getheader("content-length") or 0)
    conn.close()


def test_drip_sends_chunks_slowly(server: MockServer) -> None:
    started = time.monotonic()
    _, body = get(server, "/drip?interval_ms=50&chunks=3")
    assert time.monotonic() - started >= 0.1
    assert body == b"drip 0\ndrip 1\ndrip 2\n"


def test_gzip_and_deflate_bodies(server: MockServer) -> None:
    response, body = get(server, "/gzip")
    assert response.getheader("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(body)) == {"output": "hello from a gzip body", "encoding": "gzip"}
    response, body = get(server, "/deflate")
    assert response.getheader("content-encoding") == "deflate"
    assert json.loads(zlib.decompress(body))["encoding"] == "deflate"
    _, body = get(server, "/deflate?raw=1")
    assert json.loads(zlib.decompress(body, -15))["encoding"] == "deflate"


def test_gzip_bomb_is_small_and_decodes_to_a_gibibyte(server: MockServer) -> None:
    response, body = get(server, "/gzip-bomb")
    assert response.getheader("content-encoding") == "gzip"
    assert len(body) < 2 * 1024 * 1024
    # The gzip trailer records the decoded size (mod 2**32): 1 GiB.
    assert int.from_bytes(body[-4:], "little") == 1 << 30
    decoder = zlib.decompressobj(31)
    first = decoder.decompress(body, 64 * 1024 * 1024)  # decode only the first 64 MiB
    assert len(first) == 64 * 1024 * 1024 and first.count(0) == len(first)


def test_gzip_bomb_size_is_settable(server: MockServer) -> None:
    _, body = get(server, "/gzip-bomb?mib=3")
    assert len(gzip.decompress(body)) == 3 * 1024 * 1024


# ---------------------------------------------------------------- scripts


def test_script_429_then_200_per_id(server: MockServer) -> None:
    response, body = get(server, "/script/429-then-200?id=t429&retry_after=1")
    assert (response.status, response.getheader("retry-after")) == (429, "1")
    assert json.loads(body)["error"]["code"] == 429
    response, body = get(server, "/script/429-then-200?id=t429&retry_after=1")
    assert response.status == 200
    assert json.loads(body) == {"output": "ok", "attempt": 2, "script": "429-then-200", "id": "t429"}
    # Another id starts its own sequence.
    assert get(server, "/script/429-then-200?id=t429-other")[0].status == 429


def test_script_429_with_date_and_rate_limit_headers(server: MockServer) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    response, _ = get(server, f"/script/429-then-200?id=tdate&retry_after={date.replace(' ', '%20')}"
                              "&header=x-ratelimit-reset-requests:2s")
    assert response.getheader("retry-after") == date
    assert response.getheader("x-ratelimit-reset-requests") == "2s"


@pytest.mark.parametrize(("script", "status_line"), [
    ("503-then-200", b"HTTP/1.1 503 Service Unavailable\r\n"),
    ("503-other", b"HTTP/1.1 503 Overloaded\r\n"),
    ("503-then-200&reason=", b"HTTP/1.1 503 \r\n"),
    ("status-then-200&status=502&reason=Bad%20Gateway", b"HTTP/1.1 502 Bad Gateway\r\n"),
])
def test_script_status_then_200(server: MockServer, script: str, status_line: bytes) -> None:
    name, _, extra = script.partition("&")
    key = zlib.crc32(script.encode())
    target = f"/script/{name}?id=s-{key}" + (f"&{extra}" if extra else "")
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    assert raw_exchange(server, request).startswith(status_line)
    assert raw_exchange(server, request).startswith(b"HTTP/1.1 200 OK\r\n")


def test_script_fail_count(server: MockServer) -> None:
    statuses = [get(server, "/script/503-then-200?id=tfail&fail=2")[0].status for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_script_drop_then_200(server: MockServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/script/drop-then-200?id=tdrop")
    with pytest.raises(http.client.IncompleteRead):
        conn.getresponse().read()
    conn.close()
    response, body = get(server, "/script/drop-then-200?id=tdrop")
    assert response.status == 200
    assert json.loads(body)["attempt"] == 2


def test_script_close_then_200(server: MockServer) -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        get(server, "/script/close-then-200?id=tclose")
    assert get(server, "/script/close-then-200?id=tclose")[0].status == 200


def test_unknown_script(server: MockServer) -> None:
    response, body = get(server, "/script/nope?id=x")
    assert response.status == 404
    assert "429-then-200" in json.loads(body)["error"]["message"]


# ---------------------------------------------------------------- loopback only, CLI, serve()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(NotLoopbackError, match="loopback only"):
        MockServer(host)


def test_cli_refuses_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_mock(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback only" in capsys.readouterr().err


def test_cli_reports_a_busy_port(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_mock(["--port", str(server.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_cli_prints_the_url_and_stops_on_ctrl_c() -> None:
    code = "import sys; from promptwire.mock import main_mock; sys.exit(main_mock(['--port', '0']))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("promptwire mock server listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.request("GET", "/text")
        assert conn.getresponse().read() == b"Hello from the promptwire mock server"
        conn.close()
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_serve_runs_on_the_callers_loop() -> None:
    async def main() -> bytes:
        ports: asyncio.Queue[int] = asyncio.Queue()
        task = asyncio.create_task(serve("127.0.0.1", 0, ready=ports.put_nowait))
        port = await asyncio.wait_for(ports.get(), TIMEOUT)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /text?text=async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        await writer.wait_closed()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return data

    assert asyncio.run(main()).endswith(b"\r\n\r\nasync")


def test_stop_ends_open_connections() -> None:
    srv = MockServer().start()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    sock.sendall(b"GET /slow?delay_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2
    assert sock.recv(1024) == b""
    sock.close()


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_serves_https_and_wss(tls_files: tuple[Path, Path]) -> None:
    cert_path, key_path = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.create_default_context(cafile=str(cert_path))
    with MockServer(tls=server_ctx) as srv:
        assert srv.base_url == f"https://127.0.0.1:{srv.port}"
        assert srv.ws_url == f"wss://127.0.0.1:{srv.port}"
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=TIMEOUT, context=client_ctx)
        conn.request("GET", "/text?text=secure")
        assert conn.getresponse().read() == b"secure"
        conn.close()
        with WsClient(srv, "/ws/echo-json", tls=client_ctx) as ws:
            ws.send_text("over tls")
            assert json.loads(ws.next_message()) == {"reply": "Echo: over tls"}


# ---------------------------------------------------------------- WebSocket


class WsClient:
    """A minimal blocking WebSocket client on wsproto, for driving the server's endpoints."""

    def __init__(self, server: MockServer, target: str, *, subprotocols: list[str] | None = None,
                 tls: ssl.SSLContext | None = None, answer_pings: bool = True) -> None:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.sock: socket.socket = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.answer_pings = answer_pings
        self.pending: list[Event] = []
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{server.port}", target=target,
                                               subprotocols=subprotocols or [])))
        self.handshake = self._next(AcceptConnection, RejectConnection)
        self.eof = False

    def __enter__(self) -> WsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            self.ws.receive_data(None)
        else:
            self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, Ping) and self.answer_pings:
                self.sock.sendall(self.ws.send(event.response()))
            self.pending.append(event)

    def _next(self, *kinds: type[Event]) -> Event:
        while True:
            while self.pending:
                event = self.pending.pop(0)
                if isinstance(event, kinds):
                    return event
            if getattr(self, "eof", False):
                raise EOFError("connection closed without the expected event")
            self._fill()

    def send_text(self, text: str, *, finished: bool = True) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text, message_finished=finished)))

    def next_message(self) -> str | bytes:
        event = self._next(TextMessage, BytesMessage, CloseConnection)
        if isinstance(event, CloseConnection):
            raise EOFError(f"closed {event.code} {event.reason}")
        assert isinstance(event, (TextMessage, BytesMessage))
        return event.data if isinstance(event.data, str) else bytes(event.data)

    def messages_until(self, last: str) -> list[dict[str, Any]]:
        out = []
        while True:
            message = json.loads(self.next_message())
            out.append(message)
            if last in json.dumps(message):
                return out


def test_ws_echo_json_replies_to_each_message(server: MockServer) -> None:
    with WsClient(server, "/ws/echo-json?x=1", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert isinstance(ws.handshake, AcceptConnection)
        assert ws.handshake.subprotocol == "chat.v1"
        ws.send_text("plain text")
        assert json.loads(ws.next_message()) == {"reply": "Echo: plain text"}
        ws.send_text(json.dumps({"message": "from json"}))
        assert json.loads(ws.next_message()) == {"reply": "Echo: from json"}
    handshakes = [r for r in server.snapshot() if r.kind == "websocket" and r.target == "/ws/echo-json?x=1"]
    assert handshakes[-1].messages == ["plain text", '{"message": "from json"}']
    assert handshakes[-1].header("sec-websocket-protocol") == "chat.v1, chat.v2"


def test_ws_reassembles_fragmented_messages(server: MockServer) -> None:
    with WsClient(server, "/ws/echo-json") as ws:
        ws.send_text("frag", finished=False)
        ws.send_text("mented", finished=True)
        assert json.loads(ws.next_message()) == {"reply": "Echo: fragmented"}


def test_ws_stream_chunks_then_done(server: MockServer) -> None:
    with WsClient(server, "/ws/stream?interval_ms=1") as ws:
        ws.send_text("tell me more")
        frames = ws.messages_until('"done"')
    assert frames[-1] == {"type": "done"}
    assert all(f["type"] == "chunk" for f in frames[:-1])
    assert "".join(f["content"] for f in frames[:-1]) == "Echo: tell me more"


def test_ws_deltas_then_complete(server: MockServer) -> None:
    with WsClient(server, "/ws/deltas") as ws:
        ws.send_text("abc def")
        frames = ws.messages_until('"complete": true')
    assert frames[-1] == {"type": "final", "text": "Echo: abc def", "complete": True}
    assert "".join(f["delta"] for f in frames[:-1]) == "Echo: abc def"
    assert all(f["complete"] is False for f in frames[:-1])


def test_ws_noise_before_the_answer(server: MockServer) -> None:
    with WsClient(server, "/ws/noise?noise=3") as ws:
        ws.send_text("hi")
        frames = ws.messages_until("reply")
    assert frames == [{"type": "typing"}, {"type": "status", "status": "thinking"}, {"type": "typing"},
                      {"reply": "Echo: hi"}]


def test_ws_close_early_with_code_and_reason(server: MockServer) -> None:
    with WsClient(server, "/ws/close-early?code=4001&reason=going%20away") as ws:
        ws.send_text("hi")
        event = ws._next(CloseConnection, TextMessage)
        assert isinstance(event, CloseConnection)
        assert (event.code, event.reason) == (4001, "going away")


def test_ws_drop_ends_tcp_without_close_frame(server: MockServer) -> None:
    with WsClient(server, "/ws/drop") as ws:
        ws.send_text("hi")
        event = ws._next(CloseConnection, TextMessage)
        # wsproto reports a TCP end with no close frame as 1006 (abnormal closure).
        assert isinstance(event, CloseConnection) and event.code == 1006
        assert ws.eof


def test_ws_drop_with_reset(server: MockServer) -> None:
    with WsClient(server, "/ws/drop?reset=1") as ws:
        ws.send_text("hi")
        with pytest.raises(ConnectionResetError):
            ws._next(CloseConnection, TextMessage)


def test_ws_silent_never_replies(server: MockServer) -> None:
    with WsClient(server, "/ws/silent") as ws:
        ws.send_text("anyone?")
        ws.sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            ws.next_message()


def test_ws_binary_reply_holds_utf8_json(server: MockServer) -> None:
    with WsClient(server, "/ws/binary") as ws:
        ws.send_text("bin")
        reply = ws.next_message()
        assert isinstance(reply, bytes)
        assert json.loads(reply.decode("utf-8")) == {"reply": "Echo: bin"}


def test_ws_reject_refuses_the_handshake(server: MockServer) -> None:
    with WsClient(server, "/ws/reject?status=503&reason=Busy") as ws:
        assert isinstance(ws.handshake, RejectConnection)
        assert ws.handshake.status_code == 503
        body = b""
        while True:
            event = ws._next(RejectData)
            assert isinstance(event, RejectData)
            body += bytes(event.data)
            if event.body_finished:
                break
        assert body == b"WebSocket handshake refused with 503"


def test_ws_ping_before_answer(server: MockServer) -> None:
    with WsClient(server, "/ws/ping") as ws:
        ws.send_text("ping me")
        assert json.loads(ws.next_message()) == {"reply": "Echo: ping me", "pong": True}
    with WsClient(server, "/ws/ping?pong_timeout_ms=100", answer_pings=False) as ws:
        ws.send_text("ignore pings")
        assert json.loads(ws.next_message()) == {"reply": "Echo: ignore pings", "pong": False}


def test_ws_path_without_upgrade_gets_426(server: MockServer) -> None:
    response, _ = get(server, "/ws/echo-json")
    assert response.status == 426
    assert response.getheader("upgrade") == "websocket"


def test_ws_unknown_endpoint_is_refused_with_404(server: MockServer) -> None:
    with WsClient(server, "/ws/nope") as ws:
        assert isinstance(ws.handshake, RejectConnection)
        assert ws.handshake.status_code == 404


def test_ws_bad_handshake_gets_400(server: MockServer) -> None:
    out = raw_exchange(server, b"GET /ws/echo-json HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"bad WebSocket handshake" in out


def test_ws_client_close_gets_a_close_reply(server: MockServer) -> None:
    with WsClient(server, "/ws/echo-json") as ws:
        ws.sock.sendall(ws.ws.send(CloseConnection(code=1000, reason="bye")))
        event = ws._next(CloseConnection)
        assert isinstance(event, CloseConnection) and event.code == 1000


def test_server_thread_is_not_left_running() -> None:
    before = {t.name for t in threading.enumerate()}
    with MockServer():
        pass
    assert "promptwire-mock" not in {t.name for t in threading.enumerate()} - before


def test_mock_cli_serves_https_with_certfile_and_keyfile(tmp_path: Path) -> None:
    """``promptwire mock --certfile --keyfile`` (docs/mock-server.md) serves https://."""
    pki = make_pki()
    (tmp_path / "cert.pem").write_bytes(pki.cert_pem)
    (tmp_path / "key.pem").write_bytes(pki.key_pem)
    proc = subprocess.Popen([sys.executable, "-m", "promptwire", "mock", "--port", "0",
                             "--certfile", str(tmp_path / "cert.pem"), "--keyfile", str(tmp_path / "key.pem")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "https://127.0.0.1:" in first, (first, proc.stderr.read() if proc.poll() is not None else "")
        url = first.split()[-1]
        with Target.from_config({"id": f"{url}/echo", "config": {"method": "GET",
                                                                 "tls": {"ca": pki.ca_pem.decode()}}}) as t:
            assert t.call("hi").metadata["http"]["status"] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
