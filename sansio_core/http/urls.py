"""WHATWG URL parsing and URLSearchParams for http(s) URLs, as Node's fetch sees them.

promptfoo hands the rendered URL to Node's ``fetch``, which parses it with the
WHATWG URL Standard (https://url.spec.whatwg.org/): illegal characters are
percent-encoded (a space in the query becomes ``%20``), dot segments are
resolved, default ports vanish, credentials are split off. ``queryParams``
are appended with ``URLSearchParams``, which re-serialises the whole query
in the form-urlencoded style (space -> ``+``). Both are reproduced here for
the two special schemes promptwire speaks; anything else is a ``UrlError``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from ..errors import UrlError
from ..limits import MAX_URL_LENGTH

DEFAULT_PORTS = {"http": 80, "https": 443}


def utf8(text: str) -> bytes:
    """UTF-8 bytes, lone surrogates replaced by U+FFFD as the WHATWG encoders do."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


# -- percent-encode sets (URL Standard, 1.3) ----------------------------------------------

def _table(extra: str) -> tuple[str, ...]:
    out = []
    for b in range(256):
        if b < 0x20 or b > 0x7E or chr(b) in extra:
            out.append(f"%{b:02X}")
        else:
            out.append(chr(b))
    return tuple(out)


_FRAGMENT_SET = _table(' "<>`')
_QUERY_SET = ' "#<>'
_SPECIAL_QUERY_SET = _table(_QUERY_SET + "'")
_PATH_SET = _table(_QUERY_SET + "?`{}")
_USERINFO_SET = _table(_QUERY_SET + "?`{}" + "/:;=@[\\]^|")

def _safe_run(table: tuple[str, ...]) -> re.Pattern[str]:
    """A regex matching text that ``table`` leaves unchanged (the common, fast case)."""
    keep = "".join(re.escape(chr(b)) for b in range(128) if table[b] == chr(b))
    return re.compile(f"[{keep}]*\\Z")


_SAFE_RUNS = {id(t): _safe_run(t) for t in (_FRAGMENT_SET, _SPECIAL_QUERY_SET, _PATH_SET)}


def _pct(text: str, table: tuple[str, ...]) -> str:
    safe = _SAFE_RUNS.get(id(table))
    if safe is not None and safe.match(text):
        return text
    return "".join(table[b] for b in utf8(text))


# -- application/x-www-form-urlencoded (URLSearchParams) ----------------------------------

_FORM_TABLE = tuple(
    chr(b) if (chr(b).isascii() and chr(b).isalnum()) or chr(b) in "*-._" else ("+" if b == 0x20 else f"%{b:02X}")
    for b in range(256)
)
_FORM_SAFE = re.compile(r"[A-Za-z0-9*\-._]*\Z")


def form_encode(text: str) -> str:
    """The urlencoded byte serializer: alnum and ``*-._`` kept, space -> ``+``."""
    if _FORM_SAFE.match(text):
        return text
    return "".join(_FORM_TABLE[b] for b in utf8(text))


def form_decode(text: str) -> str:
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


def parse_query(query: str) -> list[tuple[str, str]]:
    """URLSearchParams parsing of a query string (no leading ``?``)."""
    pairs = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        pairs.append((form_decode(name), form_decode(value)))
    return pairs


def serialize_query(pairs: Iterable[tuple[str, str]]) -> str:
    """URLSearchParams ``toString()``."""
    return "&".join(f"{form_encode(k)}={form_encode(v)}" for k, v in pairs)


# -- the URL record ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Url:
    """A parsed http(s) URL. ``host`` is serialized (IPv6 in brackets), ``port`` None = default."""

    scheme: str
    username: str
    password: str
    host: str
    port: int | None
    path: str
    query: str | None
    fragment: str | None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def connect_host(self) -> str:
        """The host to connect to and use for SNI (no brackets)."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    @property
    def host_header(self) -> str:
        """``url.host``: hostname plus ``:port`` only when the port is not the default."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def target(self) -> str:
        """The origin-form request target fetch sends: pathname + search."""
        return self.path + ("?" + self.query if self.query else "")

    def href(self, credentials: bool = True) -> str:
        auth = ""
        if credentials and (self.username or self.password):
            auth = self.username + (":" + self.password if self.password else "") + "@"
        out = f"{self.scheme}://{auth}{self.host_header}{self.path}"
        if self.query is not None:
            out += "?" + self.query
        if self.fragment is not None:
            out += "#" + self.fragment
        return out

    def with_query(self, query: str | None) -> Url:
        return Url(self.scheme, self.username, self.password, self.host, self.port, self.path,
                   query, self.fragment)

    def without_credentials(self) -> Url:
        return Url(self.scheme, "", "", self.host, self.port, self.path, self.query, self.fragment)

    def append_params(self, pairs: Iterable[tuple[str, str]]) -> Url:
        """``url.searchParams.append`` for each pair: the whole query is re-serialized."""
        params = parse_query(self.query or "")
        params.extend(pairs)
        serialized = serialize_query(params)
        return self.with_query(serialized or None)


# -- parsing -----------------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_C0_SPACE = "".join(chr(c) for c in range(0x21))
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_DOT = {".", "%2e", "%2E"}
_DOUBLE_DOT = {"..", ".%2e", ".%2E", "%2e.", "%2E.", "%2e%2e", "%2E%2E", "%2e%2E", "%2E%2e"}


def parse_url(text: str, base: Url | None = None) -> Url:
    """Parse ``text`` (absolute, or relative to ``base``) like ``new URL(text, base)``."""
    if len(text) > MAX_URL_LENGTH:
        raise UrlError(f"URL is {len(text)} characters long, more than the limit of {MAX_URL_LENGTH}")
    s = text.strip(_C0_SPACE).translate(_TAB_NEWLINE)
    m = _SCHEME.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme not in DEFAULT_PORTS:
            raise UrlError(f"unsupported URL scheme {scheme!r} (promptwire speaks http and https)")
        rest = s[m.end():]
        if base is not None and scheme == base.scheme and rest[:1] not in ("/", "\\"):
            return _relative(rest, base)
        return _absolute(scheme, rest.lstrip("/\\"))
    if base is None:
        raise UrlError("not an absolute URL (it needs http:// or https://)")
    return _relative(s, base)


def _relative(s: str, base: Url) -> Url:
    if s[:2] in ("//", "\\\\", "/\\", "\\/"):
        return _absolute(base.scheme, s.lstrip("/\\"))
    if s.startswith(("/", "\\")):
        path, query, fragment = _split_tail(s)
        return Url(base.scheme, base.username, base.password, base.host, base.port,
                   _parse_path(path, []), query, fragment)
    if s.startswith("?") or s.startswith("#") or not s:
        path, query, fragment = _split_tail(s)
        if not s.startswith("?"):
            query = base.query
        return Url(base.scheme, base.username, base.password, base.host, base.port, base.path, query, fragment)
    path, query, fragment = _split_tail(s)
    segments = base.path.split("/")[1:-1]
    return Url(base.scheme, base.username, base.password, base.host, base.port,
               _parse_path("/" + path, segments), query, fragment)


def _split_tail(s: str) -> tuple[str, str | None, str | None]:
    """path, query (encoded), fragment (encoded) of what follows the authority."""
    fragment = None
    hash_at = s.find("#")
    if hash_at >= 0:
        fragment = _pct(s[hash_at + 1:], _FRAGMENT_SET)
        s = s[:hash_at]
    query = None
    q_at = s.find("?")
    if q_at >= 0:
        query = _pct(s[q_at + 1:], _SPECIAL_QUERY_SET)
        s = s[:q_at]
    return s, query, fragment


def _absolute(scheme: str, s: str) -> Url:
    end = len(s)
    for ch in "/\\?#":
        at = s.find(ch)
        if 0 <= at < end:
            end = at
    authority, tail = s[:end], s[end:]
    username = password = ""
    at = authority.rfind("@")
    if at >= 0:
        credentials, authority = authority[:at], authority[at + 1:]
        user, sep, pw = credentials.partition(":")
        username = _pct(user, _USERINFO_SET)
        password = _pct(pw, _USERINFO_SET) if sep else ""
    host_text, port = _split_port(authority)
    if not host_text:
        raise UrlError("the URL has no host")
    host = _parse_host(host_text)
    if port is not None and port == DEFAULT_PORTS[scheme]:
        port = None
    path, query, fragment = _split_tail(tail)
    return Url(scheme, username, password, host, port, _parse_path(path, []), query, fragment)


def _split_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise UrlError("unclosed IPv6 address in the URL host")
        host, rest = authority[: close + 1], authority[close + 1:]
        if rest and not rest.startswith(":"):
            raise UrlError("unexpected text after the IPv6 address")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = authority.partition(":")
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit():
        raise UrlError(f"invalid port {port_text!r}")
    port = int(port_text)
    if port > 65535:
        raise UrlError(f"port {port} is out of range")
    return host, port


def _parse_host(text: str) -> str:
    if text.startswith("["):
        if not text.endswith("]"):
            raise UrlError("unclosed IPv6 address in the URL host")
        try:
            return "[" + ipaddress.IPv6Address(text[1:-1]).compressed + "]"
        except ValueError:
            raise UrlError(f"invalid IPv6 address {text!r}") from None
    try:
        domain = unquote_to_bytes(text).decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate: not a code point a URL can carry
        raise UrlError(f"invalid host {text!r}") from None
    if domain.isascii():
        domain = domain.lower()
    else:
        try:
            domain = ".".join(
                label.encode("idna").decode("ascii") if label and not label.isascii() else label.lower()
                for label in domain.lower().split(".")
            )
        except UnicodeError:
            raise UrlError(f"invalid international host name {text!r}") from None
    if not domain or _FORBIDDEN_DOMAIN.search(domain):
        raise UrlError(f"invalid host {text!r}")
    if "xn--" in domain:
        _check_punycode(domain, text)
    ipv4 = _maybe_ipv4(domain)
    return ipv4 if ipv4 is not None else domain


def _check_punycode(domain: str, text: str) -> None:
    """An ``xn--`` label must decode (UTS 46 ToUnicode, as Node's URL does): ``xn--a``
    decodes to U+0080, a control character, and is refused there too."""
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise UrlError(f"invalid international host name {text!r} "
                               f"(the label {label!r} is not valid punycode)") from None


def _maybe_ipv4(domain: str) -> str | None:
    """The URL Standard's IPv4 parser, entered only when the last label is numeric."""
    labels = domain.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]
    if _ipv4_number(labels[-1], strict=True) is None and not labels[-1].isdigit():
        return None
    if len(labels) > 4:
        raise UrlError(f"invalid IPv4 address {domain!r}")
    numbers = []
    for label in labels:
        n = _ipv4_number(label, strict=False)
        if n is None:
            raise UrlError(f"invalid IPv4 address {domain!r}")
        numbers.append(n)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise UrlError(f"invalid IPv4 address {domain!r}")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n * 256 ** (3 - i)
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _ipv4_number(label: str, strict: bool) -> int | None:
    if not label:
        return None
    radix = 10
    if label[:2] in ("0x", "0X"):
        label, radix = label[2:], 16
        if not label:
            return 0
    elif len(label) > 1 and label[0] == "0":
        label, radix = label[1:], 8
    digits = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[radix]
    if not all(c in digits for c in label):
        return None
    if strict and radix == 10 and not label.isdigit():
        return None
    return int(label, radix)


def _parse_path(path: str, segments: list[str]) -> str:
    """Path state for special URLs: ``\\`` is ``/``, dot segments resolved, illegal bytes encoded."""
    out = list(segments)
    if path[:1] in ("/", "\\"):
        path = path[1:]
    parts = path.replace("\\", "/").split("/")
    last = len(parts) - 1
    for i, segment in enumerate(parts):
        if segment in _DOUBLE_DOT:
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif segment in _DOT:
            if i == last:
                out.append("")
        else:
            out.append(_pct(segment, _PATH_SET))
    return "/" + "/".join(out)


__all__ = [
    "DEFAULT_PORTS",
    "Url",
    "form_decode",
    "form_encode",
    "parse_query",
    "parse_url",
    "serialize_query",
    "utf8",
]
