"""Provider entries: which kind an id names, and the error each malformed entry gets."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.config.provider import is_ws_id, parse_provider_entry, provider_entries, provider_kind
from sansio_core.errors import ConfigError


@pytest.mark.parametrize(
    ("provider_id", "kind"),
    [
        ("http", "http"), ("HTTPS", "http"), (" https://api.test/x ", "http"), ("http:api", "http"),
        ("ws", "websocket"), ("websocket", "websocket"), ("WSS", "websocket"), ("ws://h/x", "websocket"),
        ("websocket:custom", "websocket"),
    ],
)
def test_provider_kind(provider_id: str, kind: str) -> None:
    assert provider_kind(provider_id) == kind


def test_unknown_ids_are_refused_with_what_is_supported() -> None:
    with pytest.raises(ConfigError, match=r"^id: cannot identify provider 'openai:gpt-4'.*ws/wss ids"):
        provider_kind("openai:gpt-4")


def test_is_ws_id_is_case_sensitive_like_the_websocket_provider() -> None:
    assert [is_ws_id(i) for i in ("ws", "wss", "websocket", "ws://h", "wss:h", "WS", "http://h")] == [
        True, True, True, True, True, False, False]


def test_a_bare_id_string_is_an_entry() -> None:
    entry = parse_provider_entry("https://api.test/chat")
    assert (entry.id, entry.kind, entry.label) == ("https://api.test/chat", "http", None)
    assert entry.url_template == "https://api.test/chat"
    assert entry.http.url is None


def test_config_url_wins_over_the_id() -> None:
    entry = parse_provider_entry({"id": "https", "config": {"url": "https://x.test/{{a}}"}})
    assert entry.url_template == "https://x.test/{{a}}"


def test_websocket_entries_keep_their_raw_config_and_have_no_http_config() -> None:
    entry = parse_provider_entry({"id": "wss://h/x", "label": "w", "config": {"messageTemplate": "m"},
                                  "env": {"K": "v"}})
    assert (entry.kind, entry.label, dict(entry.raw_config), entry.env) == (
        "websocket", "w", {"messageTemplate": "m"}, {"K": "v"})
    assert entry.config is None
    with pytest.raises(ConfigError, match="is a websocket target, not an HTTP one"):
        _ = entry.http


@pytest.mark.parametrize(
    ("raw", "where", "message"),
    [
        (["http"], "providers[0]", "providers[0]: a provider entry must be a mapping or an id string, not list"),
        (42, "", "a provider entry must be a mapping or an id string, not number"),
        ({"id": "http", "lable": "x"}, "", "lable: unknown option 'lable'; did you mean 'label'?"),
        ({"config": {}}, "", "id: a provider entry needs an `id` string (http, https, a URL, ws or wss)"),
        ({"id": "  "}, "p", "p.id: a provider entry needs an `id` string"),
        ({"id": "http", "label": 3}, "", "label: expected a string, got number"),
        ({"id": "http", "config": ["url"]}, "", "config: expected a mapping, got list"),
        ({"id": "http", "env": "A=1"}, "", "env: expected a mapping, got string"),
    ],
)
def test_malformed_entries(raw: Any, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_provider_entry(raw, where)
    assert str(info.value).startswith(message)


def test_null_config_is_an_empty_config() -> None:
    assert parse_provider_entry({"id": "http://a.test/", "config": None}).http.url is None


def test_options_map_form_is_unwrapped() -> None:
    entry = parse_provider_entry({"https://a.test/": {"label": "x", "config": {"method": "PUT"}}})
    assert (entry.id, entry.label, entry.http.method) == ("https://a.test/", "x", "PUT")
    # A single key that is an entry key is not an options map.
    with pytest.raises(ConfigError, match="needs an `id`"):
        parse_provider_entry({"config": {"url": "x"}})


@pytest.mark.parametrize(
    ("doc", "ids"),
    [
        ("http://a.test/", ["http://a.test/"]),
        ({"id": "ws://w.test/"}, ["ws://w.test/"]),
        (["http://a.test/", {"id": "wss://b.test/"}], ["http://a.test/", "wss://b.test/"]),
        ({"providers": ["http://a.test/"], "prompts": ["x"]}, ["http://a.test/"]),
        ({"targets": [{"id": "https", "config": {"url": "https://t.test/"}}]}, ["https"]),
        ({"https://a.test/": {"config": {}}}, ["https://a.test/"]),
    ],
)
def test_provider_entries_accepts_every_documented_shape(doc: Any, ids: list[str]) -> None:
    assert [e.id for e in provider_entries(doc)] == ids


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"prompts": ["x"], "tests": []}, "no provider here: expected an entry with `id`"),
        ({"providers": None}, "providers: no providers configured"),
        ({"providers": []}, "providers: no providers configured"),
        ([], "no providers configured"),
        (None, "no providers configured"),
        ({"providers": [{"id": "http"}]}, "providers[0].config: no URL to call: provider id 'http' needs"),
        ({"targets": {"id": "http", "config": {"bdy": 1}}}, "targets.config.bdy: unknown option"),
    ],
)
def test_provider_entries_errors_name_where(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        provider_entries(doc)
    assert str(info.value).startswith(message)


def test_unknown_id_error_names_the_entry_position() -> None:
    with pytest.raises(ConfigError) as info:
        provider_entries({"providers": ["http://a.test/", {"id": "ftp://x"}]})
    assert info.value.path == "providers[1].id"
    assert str(info.value).startswith("providers[1].id: cannot identify provider 'ftp://x'")
