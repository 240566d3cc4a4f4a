"""WHATWG URL parsing and URLSearchParams, as Node's fetch applies them to promptfoo's URLs."""

from __future__ import annotations

import pytest

from sansio_core.errors import UrlError
from sansio_core.http.urls import form_encode, parse_query, parse_url, serialize_query

BASE = parse_url("http://base.test/dir/page?q=1")


@pytest.mark.parametrize(
    ("text", "href", "target", "host_header"),
    [
        ("http://127.0.0.1:8080/api?x=a b", "http://127.0.0.1:8080/api?x=a%20b", "/api?x=a%20b", "127.0.0.1:8080"),
        ("HTTP://Example.COM:80/a/./b/../c?q=1#frag", "http://example.com/a/c?q=1#frag", "/a/c?q=1", "example.com"),
        ("https://h.test:443", "https://h.test/", "/", "h.test"),
        ("http://h/p ath/é?é=1&b=two%20words", "http://h/p%20ath/%C3%A9?%C3%A9=1&b=two%20words",
         "/p%20ath/%C3%A9?%C3%A9=1&b=two%20words", "h"),
        ("  http://h/a\tb\n  ", "http://h/ab", "/ab", "h"),
        ("http:\\\\h\\a\\b", "http://h/a/b", "/a/b", "h"),
        ("http://h/a?", "http://h/a?", "/a", "h"),
        ("http://h/%2e%2E/x/%2e/y", "http://h/x/y", "/x/y", "h"),
        ("http://h/{x}`y`?'q'", "http://h/%7Bx%7D%60y%60?%27q%27", "/%7Bx%7D%60y%60?%27q%27", "h"),
        ("http://[::1]:9/x", "http://[::1]:9/x", "/x", "[::1]:9"),
        ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]/", "/", "[::1]"),
        ("http://0x7f.1/", "http://127.0.0.1/", "/", "127.0.0.1"),
        ("http://2130706433/", "http://127.0.0.1/", "/", "127.0.0.1"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/", "/", "xn--bcher-kva.example"),
    ],
)
def test_parse_absolute(text: str, href: str, target: str, host_header: str) -> None:
    url = parse_url(text)
    assert url.href() == href
    assert url.target == target
    assert url.host_header == host_header


def test_parts_and_credentials() -> None:
    url = parse_url("https://us er:p%40ss:w@h.test:8443/x#f")
    assert (url.scheme, url.username, url.password, url.connect_host, url.effective_port) == \
        ("https", "us%20er", "p%40ss%3Aw", "h.test", 8443)
    assert url.without_credentials().href() == "https://h.test:8443/x#f"
    assert parse_url("http://[::1]/").connect_host == "::1"


@pytest.mark.parametrize(
    ("text", "target"),
    [("/api/data?q=test prompt&x=1", "/api/data?q=test%20prompt&x=1"), ("other", "/dir/other"),
     ("../up", "/up"), ("?z=2", "/dir/page?z=2"), ("#f", "/dir/page?q=1"), ("//other.test/p", "/p"),
     ("http://elsewhere.test/abs?x", "/abs?x"), ("/x[y]|z", "/x[y]|z")],
)
def test_parse_relative(text: str, target: str) -> None:
    assert parse_url(text, BASE).target == target


@pytest.mark.parametrize(
    "text",
    ["relative/path", "ftp://x/", "http://", "http://a:b:c/", "http://h:99999/", "http://h:8o/", "http://[::1/",
     "http://a b/", "http://h%00/", "http://1.2.3.4.5/", "http://256.1.1.1/", "http://[zz::]/", "x" * 70000],
)
def test_invalid_urls(text: str) -> None:
    with pytest.raises(UrlError):
        parse_url(text)


def test_search_params_append_reserializes_the_whole_query() -> None:
    url = parse_url("http://h/search?a=1&b=two%20words")
    assert url.append_params([("q", "cats & dogs = 100%?"), ("a", "3")]).target == \
        "/search?a=1&b=two+words&q=cats+%26+dogs+%3D+100%25%3F&a=3"
    url = parse_url("http://h/q?tag=a&tag=b#frag")
    appended = url.append_params([("tag", "c"), ("text", "naïve café ☕"), ("sym", "a+b=c&d/é")])
    assert appended.target == "/q?tag=a&tag=b&tag=c&text=na%C3%AFve+caf%C3%A9+%E2%98%95&sym=a%2Bb%3Dc%26d%2F%C3%A9"
    assert appended.href().endswith("#frag")
    assert parse_url("http://h/?").append_params([]).target == "/"


def test_form_encoding_round_trip() -> None:
    assert form_encode("a b~*-._!'()") == "a+b%7E*-._%21%27%28%29"
    assert parse_query("a=1&&b=x+y%20z&c&=v&d=%zz") == [("a", "1"), ("b", "x y z"), ("c", ""), ("", "v"), ("d", "%zz")]
    assert serialize_query([("k y", "v&w"), ("é", "")]) == "k+y=v%26w&%C3%A9="
    assert form_encode("\ud800") == "%EF%BF%BD"


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("http://u@h/", "http://u@h/"),
        ("http://1.2.3./", "http://1.2.0.3/"),
        ("http://010.0.0.1/", "http://8.0.0.1/"),
        ("http://0x0.1/", "http://0.0.0.1/"),
        ("http://1.2.3.4a/", "http://1.2.3.4a/"),
        ("http://a.0x1g/", "http://a.0x1g/"),
        ("http://h/a/..", "http://h/"),
        ("http://h/a/.", "http://h/a/"),
        ("http://☃.com/", "http://xn--n3h.com/"),
        ("http://a..b/", "http://a..b/"),
        ("http://h/a\udcff", "http://h/a%EF%BF%BD"),
    ],
)
def test_host_and_path_edge_cases_match_node(text: str, href: str) -> None:
    assert parse_url(text).href() == href


def test_same_scheme_without_slashes_is_relative_to_the_base() -> None:
    assert parse_url("http:x/y", BASE).href() == "http://base.test/dir/x/y"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://[::1]x/", "unexpected text after the IPv6 address"),
        ("http://[::1/", "unclosed IPv6 address in the URL host"),
        ("http://1.2.3.4.5/", "invalid IPv4 address '1.2.3.4.5'"),
        ("http://1.2.3.09/", "invalid IPv4 address '1.2.3.09'"),
        ("http://256.1.1.1/", "invalid IPv4 address '256.1.1.1'"),
        ("http://\u00ad/", "invalid international host name"),
        ("http://b\u00fc\u0000cher/", "invalid host"),
    ],
)
def test_invalid_hosts(text: str, message: str) -> None:
    with pytest.raises(UrlError, match=message):
        parse_url(text)


@pytest.mark.parametrize(("text", "href"), [("http://0x/", "http://0.0.0.0/"), ("http://0x0/", "http://0.0.0.0/"),
                                            ("http://1.0x0/", "http://1.0.0.0/")])
def test_zero_hex_ipv4_hosts(text: str, href: str) -> None:
    assert parse_url(text).href() == href


def test_lone_surrogate_in_host_is_a_url_error() -> None:
    with pytest.raises(UrlError):
        parse_url("http://a\udcff.test/")


def test_invalid_punycode_label_is_refused() -> None:
    # Node refuses it too (ERR_INVALID_URL): it decodes to a control character.
    with pytest.raises(UrlError, match="'xn--a' is not valid punycode"):
        parse_url("http://xn--a.test/")
    with pytest.raises(UrlError):
        parse_url("http://a.xn--zz/")


def test_valid_punycode_labels_are_kept() -> None:
    assert parse_url("http://xn--bcher-kva.example/").host == "xn--bcher-kva.example"
    assert parse_url("http://b\u00fccher.example/").host == "xn--bcher-kva.example"
