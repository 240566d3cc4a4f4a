"""Following redirects the way the reference's fetch does (``redirect: "follow"``).

Up to ``MAX_REDIRECTS`` hops inside one attempt. 301/302 turn a POST into a
GET without a body, 303 turns anything but GET/HEAD into a GET without a body,
307/308 keep the method and the body. A hop to another origin drops
``Authorization`` (and ``Cookie`` / ``Proxy-Authorization``, as undici does).
A 3xx without ``Location`` is an ordinary response. A Location that does not
parse or leaves http(s), and more than 20 hops, are ``RemoteProtocolError``s
naming the redirect (not retried). Pure functions over ``PreparedRequest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..errors import RemoteProtocolError, UrlError
from ..limits import MAX_REDIRECTS
from .exchange import ResponseHead
from .message import finish_headers, url_for_messages
from .prepared import PreparedRequest
from .urls import parse_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# fetch's "request-body-header names": dropped with the body.
_BODY_HEADERS = frozenset({"content-encoding", "content-language", "content-location", "content-type",
                           "content-length"})
_CROSS_ORIGIN_DROPPED = frozenset({"authorization", "cookie", "proxy-authorization"})


def is_redirect(head: ResponseHead) -> bool:
    return head.status in REDIRECT_STATUSES and head.header("location") is not None


def next_request(req: PreparedRequest, head: ResponseHead, hops: Sequence[str]) -> PreparedRequest:
    """The request to send after ``head`` (a redirect of ``req``); ``hops`` are the URLs so far."""
    location = head.header("location") or ""
    if len(hops) > MAX_REDIRECTS:
        looped = len(set(hops)) < len(hops)
        what = "redirect loop" if looped else "too many redirects"
        raise RemoteProtocolError(f"{what}: more than {MAX_REDIRECTS} redirects, starting at {hops[0]}"
                                  + (" (a URL repeats)" if looped else ""))
    try:
        url = parse_url(location, parse_url(req.url))
    except UrlError as exc:
        raise RemoteProtocolError(f"redirect ({head.status}) from {req.url} to an unusable Location: {exc}") from None
    method, body = req.method, req.body
    status = head.status
    if (status in (301, 302) and method == "POST") or (status == 303 and method not in ("GET", "HEAD")):
        method, body = "GET", None
    same_origin = (url.scheme, url.connect_host, url.effective_port) == req.origin
    headers = {"host": url.host_header}
    for name, value in req.headers:
        if name == "host" or (body is None and name in _BODY_HEADERS):
            continue
        if not same_origin and name in _CROSS_ORIGIN_DROPPED:
            continue
        headers[name] = value
    return replace(req, method=method, scheme=url.scheme, host=url.connect_host, port=url.effective_port,
                   target=url.target, headers=finish_headers(headers, method, body), body=body,
                   url=url_for_messages(url), multipart_parts=req.multipart_parts if body is not None else None)


__all__ = ["REDIRECT_STATUSES", "is_redirect", "next_request"]
