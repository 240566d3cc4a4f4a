"""The secrets suite (issue 9, item 10): marker secrets in every auth option, driven
through every error path against the loopback mock server, in every binding and
through the CLI; every error text, label, metadata and CLI output is grepped for
the markers (and their Basic/base64, percent-encoded and JSON forms): no hit.

The mock's ``/echo?status=N`` quotes the whole request (headers, query, body)
in an error status, as a hostile or merely chatty server would.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from promptwire import ConfigError, MockServer, PromptwireError, Target

from .apicall import call_api
from .certs import make_pki

BINDINGS = ["sync", "asyncio", "trio"]

BEARER = "MARKER-bearer-7f3a0c"
BASIC_USER = "alice"
BASIC_PW = "MARKER-basic-pw-91c2"
API_KEY = "MARKER-apikey-55d1"
HEADER_SECRET = "MARKER-header-0a9b"
OAUTH_SECRET = "MARKER-oauth-secret-2b8e"
OAUTH_PW = "MARKER-oauth-pw-c4d0"
URL_PW = "MARKER-url-pw-e6f1"
ENV_TOKEN = "MARKER-env-token-3d2c"
TLS_PASS = "MARKER-tls-pass-8a8a"
KEY_PASS = "MARKER-key-pass-7b7b"
STORE_PASS = "MARKER-store-pass-6c6c"
MARKERS = [BEARER, BASIC_PW, API_KEY, HEADER_SECRET, OAUTH_SECRET, OAUTH_PW, URL_PW, ENV_TOKEN, TLS_PASS,
           KEY_PASS, STORE_PASS]
ENV = {"API_TOKEN": ENV_TOKEN}
JKS = Path(__file__).resolve().parents[1] / "fixtures" / "jks" / "keypass.jks"


def _b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


FORBIDDEN = [*MARKERS, "MARKER-", _b64(BASIC_USER, BASIC_PW), _b64(BASIC_USER, URL_PW),
             _b64("client-1", OAUTH_SECRET), *(quote(m, safe="") for m in MARKERS)]


def assert_clean(*texts: Any) -> None:
    for text in texts:
        blob = text if isinstance(text, str) else json.dumps(text, default=repr)
        for marker in FORBIDDEN:
            assert marker not in blob, f"{marker!r} leaked in: {blob[:2000]}"


def error_text(err: BaseException) -> str:
    """Everything a user could print of an error: its text, repr, args and cause chain."""
    parts: list[str] = []
    seen: BaseException | None = err
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "\n".join(parts)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the configs ---------------------------------------------------------------------------


def auth_variants(base: str) -> dict[str, dict[str, Any]]:
    """One provider entry per auth option, each calling ``base`` (a URL without scheme)."""
    common = {"method": "POST", "headers": {"content-type": "application/json", "x-api-key": HEADER_SECRET},
              "body": {"prompt": "{{prompt}}"}, "maxRetries": 0}
    return {
        "bearer": {"id": f"http://{base}", "config": {**common, "auth": {"type": "bearer", "token": BEARER}}},
        "bearer-env": {"id": f"http://{base}",
                       "config": {**common, "auth": {"type": "bearer", "token": "{{env.API_TOKEN}}"}}},
        "basic": {"id": f"http://{base}", "config": {
            **common, "auth": {"type": "basic", "username": BASIC_USER, "password": BASIC_PW}}},
        "api-key-header": {"id": f"http://{base}", "config": {
            **common, "auth": {"type": "api_key", "keyName": "X-Key", "value": API_KEY, "placement": "header"}}},
        "api-key-query": {"id": f"http://{base}", "config": {
            **common, "auth": {"type": "api_key", "keyName": "key", "value": API_KEY, "placement": "query"}}},
        "url-userinfo": {"id": f"http://{BASIC_USER}:{URL_PW}@{base}", "config": dict(common)},
    }


def oauth_entry(token_url: str, target_url: str, grant: str = "client_credentials") -> dict[str, Any]:
    auth: dict[str, Any] = {"type": "oauth", "grantType": grant, "tokenUrl": token_url,
                            "clientId": "client-1", "clientSecret": OAUTH_SECRET}
    if grant == "password":
        auth.update(username="bob", password=OAUTH_PW)
    return {"id": target_url, "config": {"method": "POST", "body": {"prompt": "{{prompt}}"}, "auth": auth,
                                         "maxRetries": 0}}


def rejecting(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "config": {**entry["config"], "validateStatus": "status < 400"}}


# -- every error path in every binding ---------------------------------------------------------


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("variant", list(auth_variants("h")))
def test_bad_status_echoing_the_request(binding: str, variant: str, mock: MockServer) -> None:
    e = rejecting(auth_variants(f"127.0.0.1:{mock.port}/echo?status=500")[variant])
    err = call_api(binding, e, env=ENV)
    assert isinstance(err, PromptwireError) and "status 500" in str(err), err
    assert "[REDACTED]" in str(err)
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_rate_limit_exhausted_echoing_the_request(binding: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/echo?status=429")["basic"]
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("grant", ["client_credentials", "password"])
def test_oauth_token_endpoint_error_echoing_the_form(binding: str, grant: str, mock: MockServer) -> None:
    e = oauth_entry(f"{mock.base_url}/echo?status=401", f"{mock.base_url}/echo", grant)
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError) and "401" in str(err), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_oauth_token_obtained_never_printed(binding: str, mock: MockServer) -> None:
    # The token endpoint works; the target echoes the request (with the fresh token) in a 500,
    # and a transformRequest that prints its vars (which hold the token) fails another call.
    e = rejecting(oauth_entry(f"{mock.base_url}/oauth/token", f"{mock.base_url}/echo?status=500"))
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError) and "status 500" in str(err), err
    assert "mock-token-" not in error_text(err)
    assert_clean(error_text(err))
    e["config"]["transformRequest"] = "throw new Error('vars: ' + JSON.stringify(vars))"
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError) and "vars:" in str(err), err
    assert "mock-token-" not in error_text(err)
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("variant", list(auth_variants("h")))
def test_refused_connection(binding: str, variant: str) -> None:
    e = auth_variants(f"127.0.0.1:{closed_port()}/v1")[variant]
    err = call_api(binding, e, env=ENV)
    assert isinstance(err, PromptwireError), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_timeout(binding: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/slow?delay_ms=3000")["url-userinfo"]
    e["config"]["timeoutMs"] = 300
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_tls_error(binding: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/echo")["url-userinfo"]
    e["id"] = e["id"].replace("http://", "https://")
    err = call_api(binding, e)
    assert isinstance(err, PromptwireError), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_transform_errors_that_print_vars_and_env(binding: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/echo")["bearer-env"]
    e["config"]["transformResponse"] = "throw new Error('env: ' + JSON.stringify(process.env) + ' ' + " \
                                       "JSON.stringify(context.response.data))"
    err = call_api(binding, e, env=ENV)
    assert isinstance(err, PromptwireError) and "env:" in str(err), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("binding", BINDINGS)
def test_transform_returning_an_error_result(binding: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/echo")["bearer"]
    e["config"]["transformResponse"] = "({error: 'bad: ' + JSON.stringify(json.headers)})"
    result = call_api(binding, e)
    assert not isinstance(result, Exception), result
    assert_clean(result.get("error"), result.metadata)


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("variant", list(auth_variants("h")))
def test_debug_metadata_and_label(binding: str, variant: str, mock: MockServer) -> None:
    e = auth_variants(f"127.0.0.1:{mock.port}/echo")[variant]
    result = call_api(binding, e, context={"debug": True}, env=ENV)
    assert not isinstance(result, Exception), result
    assert_clean(result.metadata)
    assert_clean(Target.from_config(e, env=ENV).label)


@pytest.mark.parametrize("binding", BINDINGS)
def test_raw_request_errors(binding: str, mock: MockServer) -> None:
    malformed = f"POST /echo HTTP/1.1\nHost: 127.0.0.1:{mock.port}\nAuthorization Bearer {BEARER}\n\n{{}}"
    err = call_api(binding, {"id": "http", "config": {"request": malformed}})
    assert isinstance(err, PromptwireError) and "line 3 is not a header" in str(err), err
    assert_clean(error_text(err))
    # A header line whose value comes from vars is learned when sent, and scrubbed from a status error.
    raw = (f"POST /echo?status=500 HTTP/1.1\nHost: 127.0.0.1:{mock.port}\nAuthorization: Bearer {{{{tok}}}}\n"
           f"Content-Type: application/json\n\n{{\"p\": \"{{{{prompt}}}}\"}}")
    err = call_api(binding, {"id": "http", "config": {"request": raw, "validateStatus": "status < 400"}},
                   vars={"tok": BEARER})
    assert isinstance(err, PromptwireError) and "status 500" in str(err), err
    assert_clean(error_text(err))


@pytest.mark.parametrize("config", [
    {"auth": {"type": "bearer", "token": BEARER, "nope": 1}},
    {"auth": {"type": "basic", "username": BASIC_USER, "password": BASIC_PW}, "bogus": True},
    {"auth": {"type": "api_key", "keyName": "k", "value": API_KEY, "placement": "cookie"}},
    {"auth": {"type": "oauth", "grantType": "client_credentials", "tokenUrl": f"http://u:{URL_PW}@[bad",
              "clientId": "c", "clientSecret": OAUTH_SECRET}},
    {"url": f"http://u:{URL_PW}@[bad/", "headers": {"x-api-key": HEADER_SECRET}},
    {"headers": {"Authorization": f"Bearer {BEARER}\r\nX: y"}},
    {"tls": {"pfxPath": "nothere.pfx", "passphrase": TLS_PASS}},
    {"signatureAuth": {"type": "jks", "keystorePath": str(JKS), "keystorePassword": STORE_PASS}},
    {"signatureAuth": {"type": "jks", "keystorePath": str(JKS), "keystorePassword": "changeit",
                       "keyPassword": KEY_PASS}},
])
def test_bad_configs(config: dict[str, Any]) -> None:
    with pytest.raises(PromptwireError) as info:
        Target.from_config({"id": f"http://{BASIC_USER}:{URL_PW}@127.0.0.1:1/", "config": config})
    assert_clean(error_text(info.value))


def test_bad_tls_passphrase_config(tmp_path: Path) -> None:
    pki = make_pki()
    key = serialization.load_pem_private_key(pki.key_pem, None)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"the-right-one")))
    (tmp_path / "cert.pem").write_bytes(pki.cert_pem)
    with pytest.raises(ConfigError) as info:
        Target.from_config({"id": "https://127.0.0.1:1/", "config": {"tls": {
            "certPath": "cert.pem", "keyPath": "key.pem", "passphrase": TLS_PASS}}}, base_dir=tmp_path)
    assert "tls.passphrase is wrong" in str(info.value)
    assert_clean(error_text(info.value))


# -- the CLI -----------------------------------------------------------------------------------


def run_cli(tmp_path: Path, entry: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"providers": [entry]}))
    return subprocess.run([sys.executable, "-m", "promptwire", "call", "--config", str(config),
                           "--prompt", "hi", "--json", *extra],
                          capture_output=True, text=True, timeout=60, env={**_base_env(), **ENV})


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}


@pytest.mark.parametrize("binding", BINDINGS)
def test_cli_outputs(binding: str, mock: MockServer, tmp_path: Path) -> None:
    variants = auth_variants(f"127.0.0.1:{mock.port}/echo?status=500")
    cases = [rejecting(v) for v in variants.values()]
    cases.append(rejecting(oauth_entry(f"{mock.base_url}/echo?status=401", f"{mock.base_url}/echo", "password")))
    cases.append(auth_variants(f"127.0.0.1:{closed_port()}/v1")["url-userinfo"])
    cases.append({"id": f"http://u:{URL_PW}@127.0.0.1:1/", "config": {"auth": {"type": "bearer", "token": BEARER,
                                                                                "nope": 1}}})
    for entry in cases if binding == "sync" else cases[:2]:
        done = run_cli(tmp_path, entry, "--binding", binding)
        assert done.returncode in (1, 2), (done.stdout, done.stderr)
        assert done.stdout.strip() or done.stderr.strip()
        assert_clean(done.stdout, done.stderr)
