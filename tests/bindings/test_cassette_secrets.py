"""No configured secret reaches a cassette, and a redacted cassette still replays.

Every auth option gets a marker secret; the targets call the mock server's echo
endpoints, which send each header, query parameter and body straight back,
so a secret can leak through the request *and* the response.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from promptwire import Cassette, Target
from promptwire.mock import MockServer


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


MARKERS = {
    "bearer": "MARKER-bearer-token-01",
    "basic_user": "MARKER-basic-user-02",
    "basic_pass": "MARKER-basic-pass-03",
    "apikey_header": "MARKER-apikey-header-04",
    "apikey_query": "MARKER-apikey-query-05",
    "oauth_id": "MARKER-oauth-client-id-06",
    "oauth_secret": "MARKER-oauth-client-secret-07",
    "oauth_user": "MARKER-oauth-user-08",
    "oauth_pass": "MARKER-oauth-pass-09",
    "env_token": "MARKER-env-token-10",
    "cookie": "MARKER-cookie-11",
    "x_api_key": "MARKER-x-api-key-12",
    "ws_header": "MARKER-ws-header-13",
    "url_key": "MARKER-url-key-14",
    "user_filter": "MARKER-custom-header-15",
    "ws_password": "MARKER-ws-password-16",
}


def configs(mock: MockServer, pem: str) -> list[dict[str, Any]]:
    echo = f"{mock.base_url}/echo"
    token_url = f"{mock.base_url}/oauth/token"
    m = MARKERS
    post = {"method": "POST", "body": {"q": "{{prompt}}"}}
    return [
        {"id": echo, "config": {**post, "auth": {"type": "bearer", "token": m["bearer"]}}},
        {"id": echo, "config": {**post, "auth": {"type": "basic", "username": m["basic_user"],
                                                 "password": m["basic_pass"]}}},
        {"id": echo, "config": {**post, "auth": {"type": "api_key", "keyName": "X-Custom-Key",
                                                 "value": m["apikey_header"], "placement": "header"}}},
        {"id": echo, "config": {**post, "auth": {"type": "api_key", "keyName": "custom_q",
                                                 "value": m["apikey_query"], "placement": "query"}}},
        {"id": echo, "config": {**post, "auth": {"type": "oauth", "grantType": "client_credentials",
                                                 "tokenUrl": token_url, "clientId": m["oauth_id"],
                                                 "clientSecret": m["oauth_secret"]}}},
        {"id": echo, "config": {**post, "auth": {"type": "oauth", "grantType": "password", "tokenUrl": token_url,
                                                 "username": m["oauth_user"], "password": m["oauth_pass"]}}},
        {"id": echo, "config": {**post, "headers": {"Authorization": "Bearer {{env.MY_TOKEN}}",
                                                    "Cookie": f"sid={m['cookie']}",
                                                    "x-api-key": m["x_api_key"],
                                                    "X-Mine": m["user_filter"]}}},
        {"id": f"{echo}?api_key={m['url_key']}", "config": post},
        {"id": echo, "config": {**post, "headers": {"x-signature": "{{signature}}",
                                                    "x-timestamp": "{{signatureTimestamp}}"},
                                "signatureAuth": {"type": "pem", "privateKey": pem}}},
        {"id": f"ws://u:{m['ws_password']}@{mock.ws_url[5:]}/ws/echo-json", "config": {
            "messageTemplate": '{"message": {{ prompt | dump }}}', "transformResponse": "data.reply",
            "headers": {"Authorization": f"Bearer {m['ws_header']}"}}},
    ]


def test_a_cassette_contains_no_configured_secret_and_still_replays(mock: MockServer, tmp_path: Path) -> None:
    pem = _pem()
    path = tmp_path / "secrets.yaml"
    outputs = []
    for config in configs(mock, pem):
        with Target.from_config(config, env={"MY_TOKEN": MARKERS["env_token"]}) as target:
            target.use_cassette(Cassette(path, record_mode="new_episodes", filter_headers=["x-mine"]))
            response = target.call("hello")
            assert response.error is None, (config, response.error)
            outputs.append(response.output)
    text = path.read_text()
    leaked = [name for name, marker in MARKERS.items() if marker in text]
    assert leaked == []
    basic = base64.b64encode(f"{MARKERS['basic_user']}:{MARKERS['basic_pass']}".encode()).decode()
    assert basic not in text
    assert "mock-token-" not in text  # OAuth access tokens, in the token response and after
    for line in pem.splitlines()[1:-1]:
        assert line not in text
    assert "[REDACTED" in text

    # Replay (no secrets in the environment this time): every call still matches and answers.
    seen = len(mock.requests)
    for config, live_output in zip(configs(mock, pem), outputs, strict=True):
        with Target.from_config(config, env={}) as target:
            target.use_cassette(Cassette(path, allow_playback_repeats=True))
            replayed = target.call("hello")
            assert replayed.error is None
            if "ws://" in config["id"]:
                assert replayed.output == live_output
    assert len(mock.requests) == seen
