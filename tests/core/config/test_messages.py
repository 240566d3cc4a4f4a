"""One readable ConfigError from pydantic's validation errors: the key, what was expected, a guess."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.config.messages import closest, join_path, type_name, unknown_key_message
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "name"),
    [(None, "null"), (True, "boolean"), (1, "number"), (1.5, "number"), ("s", "string"), ({}, "mapping"),
     ([], "list"), ((), "list"), (b"x", "bytes"), (object(), "object")],
)
def test_type_name_uses_config_words(value: Any, name: str) -> None:
    assert type_name(value) == name


def test_join_path() -> None:
    assert join_path("", "url") == "url"
    assert join_path("config", "url") == "config.url"
    assert join_path("config.tools", "[2]") == "config.tools[2]"


def test_closest_finds_near_spellings_and_other_cases() -> None:
    assert closest("bdy", ["body", "url"]) == "body"
    assert closest("QUERYPARAMS", ["queryParams", "url"]) == "queryParams"
    assert closest("zzz", ["body", "url"]) is None
    assert unknown_key_message("zzz", ["url", "body"]) == "unknown option 'zzz' (known: body, url)"
    assert unknown_key_message("urll", ["url", "body"]) == "unknown option 'urll'; did you mean 'url'?"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # Unknown keys inside tagged unions list the options of the member the tag picked.
        ({"auth": {"type": "bearer", "tokn": "x"}}, "config.auth.tokn: unknown option 'tokn'; did you mean 'token'?"),
        ({"auth": {"type": "basic", "usrname": "x"}},
         "config.auth.usrname: unknown option 'usrname'; did you mean 'username'?"),
        ({"auth": {"type": "oauth", "grantType": "client_credentials", "tokenUrl": "x", "zz": 1}},
         "config.auth.zz: unknown option 'zz' (known: clientId, clientSecret, grantType, password, scopes, "
         "tokenUrl, type, username)"),
        ({"multipart": {"parts": [{"kind": "field", "name": "a", "value": "b", "zz": 1}]}},
         "config.multipart.parts[0].zz: unknown option 'zz' (known: kind, name, value)"),
        ({"multipart": {"parts": [{"kind": "file", "name": "a", "source": {"type": "generated", "zz": 1}}]}},
         "config.multipart.parts[0].source.zz: unknown option 'zz' (known: format, generator, text, type)"),
        ({"multipart": {"parts": [{"kind": "file", "name": "a", "source": {"type": "path", "pth": 1}}]}},
         "config.multipart.parts[0].source.pth: unknown option 'pth'; did you mean 'path'?"),
        ({"session": {"url": "x", "hedaers": {}}}, "config.session.hedaers: unknown option 'hedaers'; "
                                                    "did you mean 'headers'?"),
        # A bad tag says which tags exist.
        ({"auth": {"type": "nope"}}, "config.auth: Input tag 'nope' found using 'type' does not match any of "
                                     "the expected tags: 'bearer', 'basic', 'api_key', 'oauth', 'file'"),
        ({"auth": {"tokn": "x"}}, "config.auth: Unable to extract tag using discriminator 'type'"),
        # Wrong types: expected what, got what (union members' tags are not part of the path).
        ({"maxRetries": 1.5}, "config.maxRetries: expected an integer, got number 1.5"),
        ({"tls": {"pfx": 3}}, "config.tls.pfx: expected a string, got number 3"),
        ({"tls": {"ca": [1]}}, "config.tls.ca: expected a string, got list [1]"),
        ({"headers": {"a": [1]}}, "config.headers.a: expected a string, got list [1]"),
        ({"headers": "x"}, "config.headers: expected a mapping, got string 'x'"),
        ({"tools": "x"}, "config.tools: expected a list, got string 'x'"),
        ({"transformResponse": 5}, "config.transformResponse: expected a string or a function, got number 5"),
        ({"queryParams": {"a": {"b": 1}}}, "config.queryParams.a: expected a string, got mapping {'b': 1}"),
        ({"auth": [1]}, "config.auth: expected a mapping, got list [1]"),
    ],
)
def test_http_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_provider_entry({"id": "http://a.test/", "config": config})
    assert str(info.value) == message


def test_long_values_are_shortened() -> None:
    with pytest.raises(ConfigError) as info:
        parse_provider_entry({"id": "http://a.test/", "config": {"method": list(range(100))}})
    text = str(info.value)
    assert text.startswith("config.method: expected a string, got list [0, 1, 2, ") and text.endswith("...")
    assert len(text) < 120
