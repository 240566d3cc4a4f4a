"""The WebSocket provider's config: what loads, and the error each mistake gets."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_core.config.ws import load_ws_config
from sansio_core.errors import ConfigError


def test_minimal_config_and_defaults() -> None:
    config = load_ws_config({"messageTemplate": "{{prompt}}"})
    assert config.messageTemplate == "{{prompt}}"
    assert (config.url, config.headers, config.timeoutMs, config.subprotocols()) == (None, None, None, [])


def test_header_values_become_text_like_node() -> None:
    config = load_ws_config({"messageTemplate": "m", "headers": {"A": True, "B": False, "C": 3, "D": 1.5, "E": "e"}})
    assert config.headers == {"A": "true", "B": "false", "C": "3", "D": "1.5", "E": "e"}


@pytest.mark.parametrize(
    ("protocols", "expected"),
    [("a, b,,c ", ["a", "b", "c"]), (["x", " y , z", ""], ["x", "y", "z"]), (None, []), ("", [])],
)
def test_subprotocols_are_split_on_commas_and_trimmed(protocols: Any, expected: list[str]) -> None:
    assert load_ws_config({"messageTemplate": "m", "protocols": protocols}).subprotocols() == expected


def test_code_options_accept_source_and_callables() -> None:
    def parse(data: Any) -> Any:
        return data

    config = load_ws_config({"messageTemplate": "m", "transformResponse": parse, "streamResponse": "data",
                             "responseParser": "file://p.js"})
    assert config.transformResponse is parse and config.streamResponse == "data"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "messageTemplate: is required: the template of the message sent over the WebSocket"),
        ({}, "messageTemplate: is required"),
        ({"messageTemplate": "m", "mesageTemplate": "x"},
         "mesageTemplate: unknown option for a WebSocket provider (did you mean 'messageTemplate'?)"),
        ({"messageTemplate": "m", "TIMEOUTMS": 1}, "TIMEOUTMS: unknown option for a WebSocket provider "
                                                   "(did you mean 'timeoutMs'?)"),
        ({"messageTemplate": "m", "zzz": 1}, "zzz: unknown option for a WebSocket provider"),
        ({"messageTemplate": "m", "timeoutMs": -1},
         "timeoutMs: must be a positive number of milliseconds (0 means the default)"),
        ({"messageTemplate": "m", "transformResponse": 42},
         "transformResponse: expected JavaScript source, a file:// reference or a callable, got int"),
        ({"messageTemplate": "m", "headers": ["a"]}, "headers: Input should be a valid dictionary"),
        ({"messageTemplate": 5}, "messageTemplate: Input should be a valid string"),
    ],
)
def test_errors_name_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_ws_config(raw)
    assert str(info.value).startswith(message)
    if message.startswith("zzz"):
        assert "did you mean" not in str(info.value)


def test_zero_timeout_means_the_default() -> None:
    config = load_ws_config({"messageTemplate": "m", "timeoutMs": 0})
    assert config.timeout_ms({}) == 300_000 and config.timeout_ms({"REQUEST_TIMEOUT_MS": "7"}) == 7
