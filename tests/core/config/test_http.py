"""Loading provider entries: what is accepted, and the error a mistake gets."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.config.http import BearerAuth, HttpProviderConfig
from sansio_core.config.provider import parse_provider_entry, provider_entries
from sansio_core.errors import ConfigError


def error_of(config: dict[str, Any], provider_id: str = "http://api.test/") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_provider_entry({"id": provider_id, "config": config})
    return info.value


def test_full_reference_config_loads() -> None:
    entry = parse_provider_entry({"id": "https", "label": "mine", "config": {
        "url": "https://example.com/generate", "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": {"myPrompt": "{{prompt}}"}, "queryParams": {"q": "{{prompt}}"}, "transformRequest": "prompt.trim()",
        "transformResponse": "json.output", "tokenEstimation": {"enabled": True, "multiplier": 1.5},
        "maxRetries": 2, "validateStatus": "status < 500", "auth": {"type": "bearer", "token": "{{env.T}}"},
        "tls": {"rejectUnauthorized": False, "caPath": "ca.pem", "certPath": "c.pem", "keyPath": "k.pem",
                "servername": "x", "ciphers": "HIGH", "minVersion": "TLSv1.2", "maxVersion": "TLSv1.3"},
        "sessionParser": "data.headers['x-session']", "sessionSource": "server", "stateful": True,
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto",
        "transformToolsFormat": "anthropic", "timeoutMs": 5000, "env": {"T": "x"}, "useHttps": True,
    }})
    assert entry.kind == "http" and entry.label == "mine"
    assert isinstance(entry.http.auth, BearerAuth)
    assert entry.url_template == "https://example.com/generate"
    assert entry.http.tokenEstimation is not None and entry.http.tokenEstimation.multiplier == 1.5


def test_python_callables_are_accepted_for_code_options() -> None:
    def parser(json: Any, text: str) -> Any:
        return json

    config = parse_provider_entry({"id": "http://a.test/", "config": {
        "transformResponse": parser, "validateStatus": lambda s: s < 500}}).http
    assert config.transformResponse is parser


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"bdy": {}}, "config.bdy", "did you mean 'body'"),
        ({"Headers": {}}, "config.Headers", "did you mean 'headers'"),
        ({"headers": {"X-N": 5}}, "config.headers.X-N", "expected a string, got number 5"),
        ({"body": 5}, "config.body", "expected a mapping, a list or a string"),
        ({"auth": {"type": "bearer", "tokn": "x"}}, "config.auth.tokn", "did you mean 'token'"),
        ({"auth": {"type": "basic", "username": "u"}}, "config.auth.password", "required"),
        ({"auth": {"type": "magic"}}, "config.auth", "'bearer', 'basic', 'api_key', 'oauth', 'file'"),
        ({"auth": {"type": "api_key", "keyName": "k", "value": "v", "placement": "cookie"}},
         "config.auth.placement", "'header' or 'query'"),
        ({"tokenEstimation": {"multiplier": 0.001}}, "config.tokenEstimation.multiplier", "0.01"),
        ({"maxRetries": -1}, "config.maxRetries", "greater than or equal to 0"),
        ({"transformToolsFormat": "cohere"}, "config.transformToolsFormat", "'openai', 'anthropic'"),
        ({"transformResponse": 5}, "config.transformResponse", "expected a string or a function"),
        ({"tls": {"certPath": "c.pem"}}, "config.tls", "both a client certificate"),
        ({"tls": {"caPth": "x"}}, "config.tls.caPth", "did you mean 'caPath'"),
        ({"multipart": {"parts": [{"kind": "file", "name": "f", "source": {"type": "path", "pth": "x"}}]}},
         "config.multipart.parts[0].source.pth", "did you mean 'path'"),
    ],
)
def test_errors_name_the_key_and_the_expectation(config: dict[str, Any], path: str, message: str) -> None:
    err = error_of(config)
    assert err.path == path
    assert message in str(err)
    assert str(err).startswith(path + ": ")


@pytest.mark.parametrize(
    "config",
    [
        {"auth": {"type": "file", "path": "auth.js"}},
        {"tls": {"pfxPath": "c.pfx"}},
        {"tls": {"jksPath": "c.jks", "keyAlias": "k", "passphrase": "p"}},
        {"tls": {"jksContent": "AAAA"}},
        {"tls": {"secureProtocol": "TLSv1_3_method"}},
    ],
)
def test_formerly_unimplemented_options_parse(config: dict[str, Any]) -> None:
    parse_provider_entry({"id": "https://x.test/", "config": config})


def test_cross_field_rules() -> None:
    assert "needs `config.url`" in str(error_of({"method": "GET"}, provider_id="https"))
    parse_provider_entry({"id": "https", "config": {"request": "GET / HTTP/1.1\nHost: h"}})
    with pytest.raises(ConfigError, match="cannot identify provider 'openai:gpt-4'"):
        parse_provider_entry({"id": "openai:gpt-4"})
    with pytest.raises(ConfigError, match="did you mean 'label'"):
        parse_provider_entry({"id": "http://a/", "labl": "x"})


def test_provider_entries_shapes() -> None:
    doc = {"description": "x", "providers": [
        "https://x.test/y",
        {"id": "wss://a.test/ws", "config": {"messageTemplate": "{{prompt}}"}},
        {"http://z.test/q": {"config": {"method": "GET"}, "label": "z"}},
        {"id": "ws", "config": {"url": "ws://b/"}},
    ]}
    entries = provider_entries(doc)
    assert [(e.id, e.kind) for e in entries] == [
        ("https://x.test/y", "http"), ("wss://a.test/ws", "websocket"), ("http://z.test/q", "http"), ("ws", "websocket")]
    assert entries[1].config is None and entries[1].raw_config == {"messageTemplate": "{{prompt}}"}
    assert entries[2].label == "z" and entries[2].http.method == "GET"
    assert [e.id for e in provider_entries({"targets": [{"id": "http://t/"}]})] == ["http://t/"]
    assert provider_entries({"id": "http://one/", "config": {}})[0].id == "http://one/"
    assert provider_entries("http://bare/")[0].kind == "http"
    with pytest.raises(ConfigError, match=r"providers\[1\].config.bdy: unknown option"):
        provider_entries({"providers": ["http://a/", {"id": "http://b/", "config": {"bdy": 1}}]})
    with pytest.raises(ConfigError, match="no provider here"):
        provider_entries({"prompts": ["x"]})
    with pytest.raises(ConfigError, match="is a websocket target"):
        _ = entries[1].http


def test_model_defaults() -> None:
    config = HttpProviderConfig()
    assert config.maxRetries is None and config.tls is None
    tls = parse_provider_entry({"id": "http://a/", "config": {"tls": {}}}).http.tls
    assert tls is not None and tls.rejectUnauthorized is True
