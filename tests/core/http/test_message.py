"""The header and body rules both request modes share."""

from __future__ import annotations

import pytest

from sansio_core.errors import ConfigError, TemplateError
from sansio_core.http.message import (
    IDENTITY_HEADERS,
    UNCHANGED,
    USER_AGENT,
    check_header_name,
    check_header_value,
    clean_header_value,
    content_type_is_json,
    encode_body,
    finish_headers,
    header_bytes,
    json_escaped_vars,
    normalize_method,
    url_for_messages,
)
from sansio_core.http.urls import parse_url


def test_unchanged_is_a_singleton() -> None:
    assert type(UNCHANGED)() is UNCHANGED and repr(UNCHANGED) == "UNCHANGED"


def test_header_bytes_latin1_when_possible_else_utf8() -> None:
    assert header_bytes("café") == b"caf\xe9"
    assert header_bytes("snow ☃") == "snow ☃".encode()


@pytest.mark.parametrize(("method", "sent"), [("post", "POST"), ("Get", "GET"), ("delete", "DELETE"),
                                              ("patch", "patch"), ("PATCH", "PATCH"), ("purge", "purge")])
def test_only_the_standard_methods_are_upper_cased(method: str, sent: str) -> None:
    assert normalize_method(method) == sent


def test_header_names_must_be_tokens_and_are_lower_cased() -> None:
    assert check_header_name("X-Api-Key", "config.headers") == "x-api-key"
    with pytest.raises(ConfigError) as info:
        check_header_name("Bad Name", "config.headers")
    assert str(info.value) == "config.headers: 'Bad Name' is not a valid HTTP header name"


def test_header_values_are_trimmed_and_single_line() -> None:
    assert clean_header_value("x", " \t v a l \r\n") == "v a l"
    assert check_header_value("x", "tab\tok") == "tab\tok"
    for bad in ("a\nb", "a\rb", "nul\x00", "del\x7f"):
        with pytest.raises(TemplateError, match="header 'x' contains a line break or another control character"):
            clean_header_value("x", bad)


def test_json_escaped_vars_escape_strings_only() -> None:
    assert json_escaped_vars({"s": 'say "hi"\n', "n": 1, "l": ["x"]}) == {"s": 'say \\"hi\\"\\n', "n": 1, "l": ["x"]}


def test_finish_headers_adds_identity_and_content_length() -> None:
    headers = finish_headers({"user-agent": "mine", "content-length": "999"}, "POST", encode_body("é"))
    assert dict(headers) == {"user-agent": "mine", "accept": "*/*", "accept-encoding": "gzip, deflate",
                             "content-length": "2"}
    assert dict(finish_headers({}, "PUT", None))["content-length"] == "0"
    assert "content-length" not in dict(finish_headers({}, "GET", None))
    assert dict(IDENTITY_HEADERS)["user-agent"] == USER_AGENT and USER_AGENT.startswith("promptwire/")


def test_url_for_messages_hides_credentials_and_fragment() -> None:
    assert url_for_messages(parse_url("https://user:pw@api.test:8443/a?b=1#frag")) == "https://api.test:8443/a?b=1"


def test_content_type_is_json_like_promptfoo() -> None:
    assert content_type_is_json({"content-type": "application/json; charset=utf-8"})
    assert content_type_is_json({"content-type-x": "application/json"})
    assert not content_type_is_json({"content-type": "text/plain", "accept": "application/json"})
