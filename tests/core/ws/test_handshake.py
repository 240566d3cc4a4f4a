"""WebSocket parity with HTTP on the handshake: auth, tls, retries, idle timeout, size limit."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.errors import ConfigError, DeadlineExceeded, HttpStatusError, LimitExceeded
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, WsRun, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget
from sansio_core.ws.handshake import with_query_param

T0 = Instant(mono=100.0, wall=1_700_000_000.0)
FAST = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}


def target(config: dict[str, Any], url: str = "ws://ws.test/chat", env: dict[str, str] | None = None,
           sources: Sources | None = None) -> WsTarget:
    return WsTarget.compile(url, {"messageTemplate": "{{ prompt }}", **config}, sources or Sources(),
                            env if env is not None else FAST)


def run(t: WsTarget, server: ScriptedWsServer, vars: dict[str, Any] | None = None) -> WsRun:
    return run_ws_call(t.new_call("hi", vars or {}, None, now=T0, seed=3), server)


def answering(**kw: Any) -> ScriptedWsServer:
    return ScriptedWsServer(on_message=[("text", "ok")], **kw)


# -- auth ---------------------------------------------------------------------------


def test_bearer_replaces_a_configured_authorization_header_and_is_secret() -> None:
    server = answering()
    t = target({"auth": {"type": "bearer", "token": "{{ tok }}"}, "headers": {"Authorization": "x"}})
    assert run(t, server, {"tok": "s3cret-token-value"}).response.output == "ok"
    assert [v for k, v in server.request_headers if k == "authorization"] == ["Bearer s3cret-token-value"]
    assert "s3cret-token-value" not in t.secrets.redact("s3cret-token-value")


def test_basic_auth() -> None:
    server = answering()
    run(target({"auth": {"type": "basic", "username": "u", "password": "p"}}), server)
    assert ("authorization", "Basic dTpw") in server.request_headers


def test_api_key_in_a_header_and_in_the_query() -> None:
    server = answering()
    run(target({"auth": {"type": "api_key", "keyName": "X-Api-Key", "value": "k1", "placement": "header"}}),
        server)
    assert ("x-api-key", "k1") in server.request_headers
    server = answering()
    run(target({"auth": {"type": "api_key", "keyName": "api key", "value": "a&b", "placement": "query"}},
               url="ws://ws.test/chat?x=1"), server)
    assert server.request is not None and server.request.target == "/chat?x=1&api+key=a%26b"


def test_with_query_param() -> None:
    assert with_query_param("/", ("k", "v")) == "/?k=v"
    assert with_query_param("/p?a=1", ("k", "v w")) == "/p?a=1&k=v+w"


def test_auth_values_are_templates_with_env() -> None:
    t = target({"auth": {"type": "bearer", "token": "{{ env.TOKEN }}"}}, env={**FAST, "TOKEN": "from-env"})
    server = answering()
    run(t, server)
    assert ("authorization", "Bearer from-env") in server.request_headers


def test_an_unknown_auth_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        target({"auth": {"type": "magic"}})


# -- tls ----------------------------------------------------------------------------


def test_the_tls_block_reaches_open_for_wss_with_sni_from_the_url() -> None:
    t = target({"tls": {"rejectUnauthorized": False}}, url="wss://ws.test/chat")
    assert t.tls_params is not None and t.tls_params.verify is False
    result = run(t, answering())
    opens = [a for a in result.actions if isinstance(a, A.Open)]
    assert opens and opens[0].tls is not None
    assert opens[0].tls.verify is False and opens[0].tls.server_name == "ws.test"


def test_servername_wins_and_ws_has_no_tls() -> None:
    t = target({"tls": {"servername": "other.test"}}, url="wss://ws.test/chat")
    opens = [a for a in run(t, answering()).actions if isinstance(a, A.Open)]
    assert opens[0].tls is not None and opens[0].tls.server_name == "other.test"
    t = target({"tls": {"servername": "other.test"}})
    opens = [a for a in run(t, answering()).actions if isinstance(a, A.Open)]
    assert opens[0].tls is None


def test_a_missing_tls_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="caPath"):
        target({"tls": {"caPath": "ca.pem"}}, url="wss://ws.test/")


# -- retries ------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_after_the_wait() -> None:
    server = answering(reject_first=[429], reject_headers=[(b"retry-after", b"2")])
    result = run(target({"maxRetries": 4}), server)
    assert result.response.output == "ok"
    assert len(server.handshakes) == 2
    assert server.handshakes[1] - server.handshakes[0] == pytest.approx(2.0, abs=0.05)
    assert server.client_messages == ["hi"]  # the message went out once, on the accepted socket


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_refusals_are_retried(status: int) -> None:
    server = answering(reject_first=[status, status])
    assert run(target({"maxRetries": 4}), server).response.output == "ok"
    assert len(server.handshakes) == 3


def test_network_failures_are_retried() -> None:
    server = answering(refuse_first=2)
    assert run(target({"maxRetries": 4}), server).response.output == "ok"
    assert server.opens == 3


def test_retries_stop_at_max_retries_with_the_status_and_history() -> None:
    server = answering(reject_status=429)
    err = run(target({"maxRetries": 2}), server).error
    assert isinstance(err, HttpStatusError) and err.status == 429
    assert "HTTP 429" in str(err) and "3 attempts" in str(err)
    assert len(server.handshakes) == 3


def test_without_max_retries_one_handshake_as_the_reference() -> None:
    # promptfoo's ws provider makes one handshake (conformance ws_handshake_rejected_503).
    server = answering(reject_status=503)
    err = run(target({}), server).error
    assert isinstance(err, HttpStatusError) and err.status == 503
    assert len(server.handshakes) == 1


def test_a_401_is_not_retried() -> None:
    server = answering(reject_status=401)
    err = run(target({"maxRetries": 4}), server).error
    assert isinstance(err, HttpStatusError) and err.status == 401
    assert len(server.handshakes) == 1


def test_retries_never_pass_the_call_deadline() -> None:
    server = answering(reject_status=429, reject_headers=[(b"retry-after", b"30")])
    result = run(target({"timeoutMs": 5000, "maxRetries": 4}), server)
    assert isinstance(result.error, HttpStatusError) and "deadline" in str(result.error)
    assert len(server.handshakes) == 1 and result.elapsed < 5


# -- idle timeout -------------------------------------------------------------------


def test_idle_timeout_between_frames() -> None:
    script = [("text", "a"), ("sleep", 0.5), ("text", "b"), ("sleep", 3.0), ("text", "c")]
    stream = "(acc, event) => [{output: (acc.output || '') + event.data}, event.data === 'c']"
    t = target({"idleTimeoutMs": 1000, "streamResponse": stream})
    result = run(t, ScriptedWsServer(on_message=script))
    err = result.error
    assert isinstance(err, DeadlineExceeded) and "idleTimeoutMs" in str(err)
    assert result.elapsed == pytest.approx(1.5, abs=0.05)
    ok = run(target({"idleTimeoutMs": 4000, "streamResponse": stream}), ScriptedWsServer(on_message=script))
    assert ok.response.output == "abc"


def test_idle_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="idleTimeoutMs"):
        target({"idleTimeoutMs": 0})


# -- handshake size limit -----------------------------------------------------------


def _accept_with_header(size: int) -> bytes:
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")


def test_a_handshake_larger_than_h11s_default_is_ours_to_judge() -> None:
    # 32 KiB of headers: h11's 16 KiB default would refuse it; our limit is larger.
    server = ScriptedWsServer(raw_handshake_response=_accept_with_header(32 * 1024))
    err = run_ws_call(target({"maxRetries": 0}).new_call("hi", {}, None, now=T0, seed=1), server,
                      read_size=4096).error
    assert not isinstance(err, LimitExceeded)  # the accept key is wrong: a protocol error, not a size one
    assert "Sec-WebSocket-Accept" in str(err) or "handshake" in str(err)


def test_a_handshake_over_our_limit_fails() -> None:
    server = ScriptedWsServer(raw_handshake_response=_accept_with_header(200 * 1024))
    err = run_ws_call(target({}).new_call("hi", {}, None, now=T0, seed=1), server, read_size=4096).error
    assert isinstance(err, LimitExceeded) and "MAX_WS_HANDSHAKE" in str(err)
    assert len(server.handshakes) == 1  # a limit is not retried


def test_file_auth_token_reaches_the_handshake_headers_and_is_cached() -> None:
    js = b"export default async function getAuth(ctx) { globalThis.n = (globalThis.n || 0) + 1;" \
         b" return { token: 'file-token-' + globalThis.n, expiration: 4102444800000 }; }"
    t = target({"auth": {"type": "file", "path": "file://auth.js"}, "headers": {"Authorization": "Bearer {{token}}"}},
               sources=Sources(files={"auth.js": js}, base_dir="/cfg"))
    for _ in range(2):
        server = answering()
        run(t, server)
        assert ("authorization", "Bearer file-token-1") in server.request_headers
    assert "file-token-1" not in t.secrets.redact("x file-token-1")


def test_a_retried_handshake_takes_a_rate_limit_token() -> None:
    # docs/retries.md: every WebSocket connection counts, a retry's too.
    server = answering(reject_first=[503])
    result = run(target({"maxRequestsPerSecond": 1, "maxRetries": 4}), server)
    assert result.response.output == "ok"
    assert server.handshakes[1] - server.handshakes[0] == pytest.approx(1.0, abs=0.05)
