"""Redirects follow fetch's rules (spec README: up to 20 hops, method/body rules, Authorization)."""

from __future__ import annotations

import pytest

from sansio_core.errors import RemoteProtocolError
from sansio_core.http.exchange import ResponseHead
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.redirects import is_redirect, next_request


def post(url: str = "http://a.test/v1/x") -> PreparedRequest:
    return PreparedRequest(
        method="POST", scheme="http", host="a.test", port=80, target="/v1/x",
        headers=(("host", "a.test"), ("content-type", "application/json"), ("authorization", "Bearer s"),
                 ("content-length", "7")),
        body=b'{"a":1}', url=url)


def head(status: int, location: str | None) -> ResponseHead:
    return ResponseHead(status, "", (("location", location),) if location is not None else ())


@pytest.mark.parametrize("status", [301, 302, 303])
def test_post_becomes_a_get_without_body(status: int) -> None:
    nxt = next_request(post(), head(status, "/v2/y?q=1"), ["http://a.test/v1/x"])
    assert (nxt.method, nxt.body, nxt.target, nxt.url) == ("GET", None, "/v2/y?q=1", "http://a.test/v2/y?q=1")
    names = dict(nxt.headers)
    assert "content-type" not in names and "content-length" not in names
    assert names["authorization"] == "Bearer s"  # same origin


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_keep_method_and_body(status: int) -> None:
    nxt = next_request(post(), head(status, "http://a.test/other"), ["u"])
    assert (nxt.method, nxt.body) == ("POST", b'{"a":1}')
    assert dict(nxt.headers)["content-length"] == "7"


def test_a_cross_origin_hop_drops_authorization_and_sets_host() -> None:
    nxt = next_request(post(), head(307, "https://b.test:8443/z"), ["u"])
    names = dict(nxt.headers)
    assert "authorization" not in names
    assert names["host"] == "b.test:8443"
    assert (nxt.scheme, nxt.host, nxt.port) == ("https", "b.test", 8443)


def test_a_put_on_303_becomes_get_and_head_stays_head() -> None:
    from dataclasses import replace
    assert next_request(replace(post(), method="PUT"), head(303, "/r"), ["u"]).method == "GET"
    assert next_request(replace(post(), method="HEAD", body=None), head(303, "/r"), ["u"]).method == "HEAD"


def test_no_location_is_an_answer_and_bad_locations_are_clear_errors() -> None:
    assert not is_redirect(head(302, None))
    assert not is_redirect(head(304, "/x"))
    with pytest.raises(RemoteProtocolError, match="redirect"):
        next_request(post(), head(302, "ftp://a.test/x"), ["u"])
    with pytest.raises(RemoteProtocolError, match="redirect"):
        next_request(post(), head(302, "http://[::1"), ["u"])


def test_more_than_20_hops_fail_and_a_loop_says_so() -> None:
    next_request(post(), head(302, "/x"), ["u"] * 20)  # the 20th redirect is followed
    with pytest.raises(RemoteProtocolError, match="redirect loop"):
        next_request(post(), head(302, "/x"), ["u"] * 21)
    with pytest.raises(RemoteProtocolError, match="too many redirects"):
        next_request(post(), head(302, "/x"), [f"u{i}" for i in range(21)])
