"""Credentials with no exchange: bearer, basic, API key (header or query), OAuth's token, URL userinfo."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.auth.static import StaticAuth, basic_credentials, url_credentials
from sansio_core.config.provider import parse_provider_entry
from sansio_core.http.target import HttpTarget
from sansio_core.http.urls import parse_url
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

ENGINE = TemplateEngine({"TOKEN": "env-token"})


def compiled(auth: dict[str, Any] | None) -> StaticAuth | None:
    config: dict[str, Any] = {} if auth is None else {"auth": auth}
    return StaticAuth.compile(parse_provider_entry({"id": "http://a.test/", "config": config}).http.auth, ENGINE)


def test_basic_credentials_are_utf8_base64() -> None:
    assert basic_credentials("ü", "p:w") == "Basic " + base64.b64encode("ü:p:w".encode()).decode()


def test_bearer_and_basic_set_authorization_from_templates() -> None:
    bearer = compiled({"type": "bearer", "token": "{{env.TOKEN}}-{{n}}"})
    assert bearer is not None and bearer.header({"n": 1}) == ("authorization", "Bearer env-token-1")
    assert bearer.query({}) is None
    basic = compiled({"type": "basic", "username": "{{u}}", "password": "pw"})
    assert basic is not None and basic.header({"u": "me"}) == ("authorization", basic_credentials("me", "pw"))


def test_api_key_in_a_header_or_the_query() -> None:
    header = compiled({"type": "api_key", "keyName": "X-API-Key", "value": "{{k}}", "placement": "header"})
    assert header is not None and header.header({"k": "v"}) == ("x-api-key", "v") and header.query({}) is None
    query = compiled({"type": "api_key", "keyName": "api_key", "value": "{{k}}", "placement": "query"})
    assert query is not None and query.query({"k": "v"}) == ("api_key", "v") and query.header({}) is None


def test_oauth_uses_only_a_string_token() -> None:
    oauth = compiled({"type": "oauth", "grantType": "client_credentials", "tokenUrl": "http://a.test/t",
                      "clientId": "c", "clientSecret": "s"})
    assert oauth is not None
    assert oauth.header({"token": "T"}) == ("authorization", "Bearer T")
    assert oauth.header({"token": 42}) is None and oauth.header({}) is None


def test_no_auth_or_file_auth_has_no_static_part() -> None:
    assert compiled(None) is None
    assert compiled({"type": "file", "path": "file://a.js"}) is None


@pytest.mark.parametrize(("url", "expected"), [
    ("http://user:p%40ss@a.test/", basic_credentials("user", "p@ss")),
    ("http://user@a.test/", basic_credentials("user", "")),
    ("http://:pw@a.test/", basic_credentials("", "pw")),
    ("http://a.test/", None),
])
def test_url_credentials_are_percent_decoded(url: str, expected: str | None) -> None:
    assert url_credentials(parse_url(url)) == expected


def test_auth_header_replaces_a_configured_header_of_the_same_name() -> None:
    seen: list[SeenRequest] = []

    def server(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(200, [], b"ok")

    entry = parse_provider_entry({"id": "http://u:p@api.test/x", "config": {
        "headers": {"Authorization": "Bearer configured"},
        "auth": {"type": "api_key", "keyName": "Authorization", "value": "Key {{k}}", "placement": "header"}}})
    end, _ = run_against(HttpTarget.compile(entry, Sources()).new_call("hi", {"k": "123"}, None,
                                                                        now=Instant(1.0, 1.0), seed=1), server)
    assert isinstance(end, A.Complete)
    assert [v for k, v in seen[0].headers if k == "authorization"] == ["Key 123"]
