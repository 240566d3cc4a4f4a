"""PreparedRequest: the request as it goes on the wire."""

from __future__ import annotations

from sansio_core.config.provider import parse_provider_entry
from sansio_core.http.message import UNCHANGED
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.request_plan import RequestPlan
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine


def test_origin_and_last_header_value_case_insensitively() -> None:
    req = PreparedRequest("POST", "https", "::1", 8443, "/a?b=1",
                          (("host", "[::1]:8443"), ("x-dup", "1"), ("x-dup", "2")), b"{}", "https://[::1]:8443/a?b=1")
    assert req.origin == ("https", "::1", 8443)
    assert req.header("X-Dup") == "2" and req.header("HOST") == "[::1]:8443"
    assert req.header("missing") is None
    assert req.multipart_parts is None


def test_a_built_request_has_what_the_wire_needs() -> None:
    entry = parse_provider_entry({"id": "https://api.test:444/v1/chat?x=1", "config": {
        "method": "post", "headers": {"X-Key": "{{k}}"}, "body": {"q": "{{prompt}}"}}})
    plan = RequestPlan.compile(entry, TemplateEngine(), Sources())
    req = plan.build({"prompt": "hi", "k": "v"}, UNCHANGED, {})
    assert (req.method, req.scheme, req.host, req.port, req.target) == ("POST", "https", "api.test", 444,
                                                                        "/v1/chat?x=1")
    assert req.body == b'{"q":"hi"}' and req.header("content-length") == "10"
    assert req.header("host") == "api.test:444" and req.header("x-key") == "v"
    assert req.url == "https://api.test:444/v1/chat?x=1"

