"""Raw HTTP request mode (``config.request``): a request written out by hand, templated.

promptfoo (spec section 9) renders the text with every string var JSON-escaped,
evaluating only ``{{ ... }}`` (so ``{% ... %}``-looking text in a cookie stays
literal), trims it, turns every line ending into CRLF, re-encodes the
request-target through the URL parser (absolute-form loses its host: the Host
header alone decides where the request goes), lower-cases header names (the
last duplicate wins), drops ``Content-Length`` so it is recomputed, and sends the
trimmed body verbatim. promptwire does the same, with clear errors where
promptfoo fails late or oddly: a missing Host header, a GET with a body, a
malformed header line are errors before anything is sent; a literal ``{% raw %}``
does not switch templating off; ``api_key`` query auth keeps trace headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..auth.static import StaticAuth
from ..config.provider import ProviderEntry
from ..errors import ConfigError, RawRequestError, TemplateError, UrlError
from ..js.jsvalue import js_trim
from ..limits import MAX_RAW_REQUEST_HEADERS, MAX_RENDERED_TEMPLATE
from ..sources import FILE_PREFIX, Sources, split_file_ref
from ..templating import Template, TemplateEngine
from .message import (
    ILLEGAL_IN_VALUE,
    UNCHANGED,
    clean_header_value,
    finish_headers,
    json_escaped_vars,
    url_for_messages,
)
from .prepared import PreparedRequest
from .urls import Url, parse_url, utf8

# Node's http.METHODS (v20): the request line's method must be one of these, exactly.
NODE_METHODS = frozenset(
    ["ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK", "M-SEARCH", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH", "PURGE", "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK", "UNLOCK", "UNSUBSCRIBE"]
)
_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_LINE_END = re.compile(r"\r?\n")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Any base works: only the path and query of the parsed target are kept.
_DUMMY_BASE = parse_url("http://raw-request.invalid/")
# Node adds this for a string body without a content type (spec T086).
TEXT_BODY_TYPE = "text/plain;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class ParsedRaw:
    """A raw request after normalisation: what is sent, before auth and identity headers."""

    method: str
    target: str
    path: str
    query: str | None
    headers: dict[str, str]
    body: str


def _redacted_line(method: str, target: str, protocol: str) -> str:
    """The first line for messages, without its query (which may hold credentials)."""
    path = target.split("?", 1)[0]
    return f"{method} {path}{'?...' if '?' in target else ''} {protocol}".strip()


def parse_request_line(line: str) -> tuple[str, str, str]:
    """method, target, protocol of a raw request's first line (promptfoo's checks)."""
    line = line.rstrip("\r")
    first = line.find(" ")
    last = line.rfind(" ")
    method = line if first < 0 else line[:first]
    if method not in NODE_METHODS:
        shown = method if len(method) <= 40 else method[:40] + "..."
        raise RawRequestError(f"HTTP request method {shown!r} is not valid (expected one of GET, POST, ...)")
    if first < 0:
        raise RawRequestError(f"the request line {method!r} has no URL and no protocol")
    if first == last:
        raise RawRequestError(
            f"the request line {_redacted_line(method, line[first + 1:], '')!r} has no protocol "
            "(expected e.g. HTTP/1.1)"
        )
    target, protocol = line[first + 1:last].strip(), line[last + 1:]
    if not target:
        raise RawRequestError(f"the request line {_redacted_line(method, '', protocol)!r} has no URL")
    if not protocol.lower().startswith("http"):
        raise RawRequestError(
            f"HTTP request protocol is not valid in {_redacted_line(method, target, protocol)!r} "
            "(expected e.g. HTTP/1.1)"
        )
    return method, target, protocol


def parse_raw_request(text: str) -> ParsedRaw:
    """Normalise and parse a rendered raw request (spec 9.4, 9.5, 9.8)."""
    if len(text) > MAX_RENDERED_TEMPLATE:
        raise RawRequestError(f"the raw request is longer than the limit of {MAX_RENDERED_TEMPLATE} characters")
    normalized = _LINE_END.sub("\r\n", js_trim(text)) + "\r\n\r\n"
    head, _, body = normalized.partition("\r\n\r\n")
    lines = head.split("\r\n")
    method, target, _protocol = parse_request_line(lines[0])
    try:
        parsed_target = parse_url(target, _DUMMY_BASE)
    except UrlError as err:
        raise RawRequestError(f"the request URL is not valid: {err}") from None
    if len(lines) - 1 > MAX_RAW_REQUEST_HEADERS:
        raise RawRequestError(f"more than {MAX_RAW_REQUEST_HEADERS} header lines")
    headers: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            # The line itself is not quoted: a mistyped `Authorization Bearer ...`
            # would put its credential into the message.
            why = "it has no ':'" if not sep else "the text before ':' is not a header name"
            raise RawRequestError(f"line {number} is not a header (expected `Name: value`; {why}, "
                                  f"{len(line)} characters)")
        value = value.strip(" \t")
        if ILLEGAL_IN_VALUE.search(value):
            raise RawRequestError(f"header {name.lower()!r} contains a control character (a stray CR?)")
        headers[name.lower()] = value  # a later duplicate wins (in the first one's place, as in JS)
    return ParsedRaw(method, parsed_target.target, parsed_target.path, parsed_target.query or None,
                     headers, js_trim(body))


class _RawTemplate:
    """The raw text as literal runs and ``{{ }}`` expressions (protected rendering, spec 9.3)."""

    __slots__ = ("_parts", "source", "static")

    def __init__(self, source: str, engine: TemplateEngine) -> None:
        self.source = source
        parts: list[str | Template] = []
        if engine.disabled:
            parts.append(source)
        else:
            pos = 0
            for m in _EXPRESSION.finditer(source):
                if m.start() > pos:
                    parts.append(source[pos:m.start()])
                parts.append(engine.compile(m.group(0)))
                pos = m.end()
            if pos < len(source):
                parts.append(source[pos:])
        self._parts = parts
        self.static = all(isinstance(p, str) for p in parts)

    def render(self, vars: Mapping[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else p.render(vars) for p in self._parts)


class RawRequestPlan:
    """A compiled raw request: the template, the scheme rule and the static auth."""

    __slots__ = ("_auth", "_https", "_static", "_template")

    def __init__(self, template: _RawTemplate, https: bool, auth: StaticAuth | None) -> None:
        self._template = template
        self._https = https
        self._auth = auth
        self._static: ParsedRaw | None = None

    @classmethod
    def compile(cls, entry: ProviderEntry, engine: TemplateEngine, sources: Sources,
                auth: StaticAuth | None) -> RawRequestPlan:
        config = entry.http
        text = config.request or ""
        if text.startswith(FILE_PREFIX):
            path, _ = split_file_ref(text)
            data = sources.files.get(path)
            if data is None:
                raise ConfigError(f"{text!r} was not loaded (the binding must read it into Sources.files)",
                                  "config.request")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"{text!r} is not UTF-8 text", "config.request") from None
        if not js_trim(text):
            raise ConfigError("the raw request is empty", "config.request")
        # promptfoo: https if the target URL (id or config.url) starts with https, or useHttps.
        https = entry.url_template.lower().startswith("https") or bool(config.useHttps)
        plan = cls(_RawTemplate(text, engine), https, auth)
        first_line = _LINE_END.split(js_trim(text), 1)[0]
        try:
            if not _EXPRESSION.search(first_line) or engine.disabled:
                parse_request_line(first_line)
            if plan._template.static:
                parsed = parse_raw_request(text)
                plan._check(parsed)
                plan._static = parsed
        except RawRequestError as err:
            raise ConfigError(str(err), "config.request") from None
        return plan

    def _check(self, parsed: ParsedRaw) -> None:
        if not parsed.headers.get("host"):
            raise RawRequestError("the raw request has no Host header, so there is nowhere to send it")
        if parsed.body and parsed.method in ("GET", "HEAD"):
            raise RawRequestError(
                f"a {parsed.method} request cannot have a body: remove the body or change the method"
            )

    def build(self, vars: Mapping[str, Any], transformed_prompt: Any,
              context: Mapping[str, Any] | None) -> PreparedRequest:
        parsed = self._static
        if parsed is None:
            prompt = vars.get("prompt") if transformed_prompt is UNCHANGED else transformed_prompt
            escaped = json_escaped_vars({**vars, "prompt": prompt})
            try:
                parsed = parse_raw_request(self._template.render(escaped))
                self._check(parsed)
            except RawRequestError as err:
                raise TemplateError(f"raw request: {err}") from None
        scheme = "https" if self._https else "http"
        try:
            origin = parse_url(f"{scheme}://{parsed.headers['host']}")
        except UrlError as err:
            raise TemplateError(f"raw request: the Host header is not a valid host: {err}") from None
        url = Url(scheme, "", "", origin.host, origin.port, parsed.path, parsed.query, None)

        headers = dict(parsed.headers)
        headers.pop("content-length", None)
        if context:
            for name in ("traceparent", "tracestate"):
                value = context.get(name)
                if isinstance(value, str) and value:
                    headers[name] = clean_header_value(name, value)
        if self._auth is not None:
            pair = self._auth.header(vars)
            if pair is not None:
                headers[pair[0]] = clean_header_value(pair[0], pair[1])
            query = self._auth.query(vars)
            if query is not None:
                url = url.append_params([query])
        body = utf8(parsed.body) if parsed.body else None
        if body is not None:
            headers.setdefault("content-type", TEXT_BODY_TYPE)
        return PreparedRequest(
            method=parsed.method,
            scheme=scheme,
            host=url.connect_host,
            port=url.effective_port,
            target=url.target,
            headers=finish_headers(headers, parsed.method, body),
            body=body,
            url=url_for_messages(url),
        )


__all__ = ["NODE_METHODS", "ParsedRaw", "RawRequestPlan", "parse_raw_request",
           "parse_request_line"]
