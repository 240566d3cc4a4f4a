"""Which proxy a request goes through, and the bytes that say so: pure decisions.

Inputs are the target's ``proxy`` option, the environment (handed in through
``Sources``, never read here) and the URL; outputs are a ``ProxyRoute`` or
``None`` (go direct). The rules follow curl's reading of the environment:

* ``http://`` and ``ws://`` URLs use ``http_proxy`` (then ``HTTP_PROXY``,
  which curl ignores for CGI reasons that do not apply to a client library);
  ``https://`` and ``wss://`` use ``https_proxy`` then ``HTTPS_PROXY``; then
  ``all_proxy`` / ``ALL_PROXY`` for any scheme. Lower case wins.
* ``no_proxy`` (then ``NO_PROXY``): comma- or space-separated; ``*`` bypasses
  every host; a name matches itself and its subdomains (a leading dot is
  optional); an IP address matches exactly, a CIDR block (``10.0.0.0/8``)
  matches the addresses in it. Ports are not compared (as in curl).
* A per-target ``proxy`` (a URL, credentials optional) wins over the
  environment, ``NO_PROXY`` included.
* A proxy URL without a scheme is ``http://``; without a port, 1080 (curl's
  default). Only ``http://`` proxies are supported (no HTTPS-to-the-proxy, no
  SOCKS): anything else is a ``ConfigError`` when the target is built.

A plain ``http://`` request is forwarded: sent to the proxy with the
absolute-form request-target (``GET http://host/path HTTP/1.1``) and the
``Proxy-Authorization`` header. ``https://`` and every WebSocket URL tunnel:
``CONNECT host:port`` first (``connect_request``), the reply judged by
``parse_connect_reply``, then TLS to the origin through the tunnel (the
``tls`` block applies to the origin, so an interceptor's CA goes there).

The credentials are secrets: ``ProxyRoute.label`` and ``repr`` never show them.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import ConfigError

DEFAULT_PROXY_PORT = 1080
# The largest CONNECT reply head we read (a proxy's 200 is a few dozen bytes).
MAX_CONNECT_REPLY = 16 * 1024

_ENV_BY_SCHEME = {
    "http": ("http_proxy", "HTTP_PROXY"),
    "ws": ("http_proxy", "HTTP_PROXY"),
    "https": ("https_proxy", "HTTPS_PROXY"),
    "wss": ("https_proxy", "HTTPS_PROXY"),
}
_ALL = ("all_proxy", "ALL_PROXY")
_NO = ("no_proxy", "NO_PROXY")


@dataclass(frozen=True)
class ProxyServer:
    """An ``http://`` proxy: where to connect, and the Basic credentials if any."""

    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """``http://host:port`` — never the credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value (Basic), or None without credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class ProxyRoute:
    """Go through ``server``: by CONNECT tunnel when ``tunnel``, else by forwarding."""

    server: ProxyServer
    tunnel: bool

    @property
    def label(self) -> str:
        return self.server.label


def parse_proxy_url(text: str, where: str = "proxy") -> ProxyServer:
    """A proxy URL (``http://user:pass@host:port``, or ``host:port``) → ``ProxyServer``."""
    raw = text.strip()
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ConfigError("not a proxy URL (expected http://[user:password@]host[:port])", where) from None
    if parts.scheme.lower() != "http":
        raise ConfigError(f"{parts.scheme}:// proxies are not supported; use an http:// proxy", where)
    if not parts.hostname:
        raise ConfigError("the proxy URL has no host", where)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError("a proxy URL is scheme, credentials, host and port only", where)
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return ProxyServer(parts.hostname, port or DEFAULT_PROXY_PORT, username, password)


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _bare_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def bypassed(no_proxy: str | None, host: str) -> bool:
    """Whether ``no_proxy`` (curl's syntax) exempts ``host`` from the proxy."""
    if not no_proxy:
        return False
    target = _bare_host(host)
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(target)
    except ValueError:
        address = None
    for item in no_proxy.replace(",", " ").split():
        if item == "*":
            return True
        entry = item.lower()
        if address is not None:
            try:
                if "/" in entry:
                    if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                        return True
                elif address == ipaddress.ip_address(_bare_host(entry)):
                    return True
            except ValueError:
                pass
            continue
        name = _bare_host(entry).lstrip(".")
        if name and (target == name or target.endswith("." + name)):
            return True
    return False


def select_proxy(scheme: str, host: str, *, configured: ProxyServer | None,
                 env: Mapping[str, str]) -> ProxyRoute | None:
    """The route for a request to ``scheme://host``, or None to connect directly."""
    scheme = scheme.lower()
    tunnel = scheme != "http"
    if configured is not None:
        return ProxyRoute(configured, tunnel)
    if bypassed(_first(env, _NO), host):
        return None
    url = _first(env, _ENV_BY_SCHEME.get(scheme, ())) or _first(env, _ALL)
    if url is None:
        return None
    return ProxyRoute(parse_proxy_url(url, "the proxy environment variable"), tunnel)


_ENV_NAMES = tuple(dict.fromkeys(
    name for names in (*_ENV_BY_SCHEME.values(), _ALL, _NO) for name in names))


@dataclass(frozen=True)
class ProxySettings:
    """A target's proxy configuration: its ``proxy`` option and the proxy
    variables of the environment, read once when the target is built (so a
    call never reads the environment). ``None`` from ``for_target`` means
    "no proxy anywhere": the flows then skip the decision entirely."""

    configured: ProxyServer | None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def for_target(cls, option: str | None, env: Mapping[str, str]) -> ProxySettings | None:
        configured = configured_proxy(option)
        snapshot = {name: env[name] for name in _ENV_NAMES if env.get(name, "").strip()}
        if configured is None and not any(name not in _NO for name in snapshot):
            return None
        settings = cls(configured, snapshot)
        settings.servers()  # a malformed proxy variable is a ConfigError now, not at call time
        return settings

    def route(self, scheme: str, host: str) -> ProxyRoute | None:
        return select_proxy(scheme, host, configured=self.configured, env=self.env)

    def servers(self) -> list[ProxyServer]:
        """Every proxy these settings may use (for their credentials, which are secrets)."""
        out = [] if self.configured is None else [self.configured]
        for names in (*_ENV_BY_SCHEME.values(), _ALL):
            url = _first(self.env, names)
            if url is not None:
                out.append(parse_proxy_url(url, "the proxy environment variable " + names[0].upper()))
        return out

    def secrets(self) -> list[str]:
        """The proxy passwords and their ``Proxy-Authorization`` values."""
        found: list[str] = []
        for server in self.servers():
            if server.password:
                auth = server.authorization()
                found += [server.password] + ([auth, auth.split(" ", 1)[1]] if auth else [])
        return found


def configured_proxy(value: str | None) -> ProxyServer | None:
    """The per-target ``proxy`` option, validated when the target is built."""
    return None if value is None else parse_proxy_url(value, "proxy")


def authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_request(host: str, port: int, server: ProxyServer, user_agent: str) -> bytes:
    """The ``CONNECT`` request that opens a tunnel to ``host:port``."""
    target = authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", f"User-Agent: {user_agent}"]
    auth = server.authorization()
    if auth is not None:
        lines.append(f"Proxy-Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True)
class ConnectReply:
    status: int
    reason: str
    rest: bytes  # bytes after the head (none expected before TLS starts)


def parse_connect_reply(buffer: bytes) -> ConnectReply | None:
    """The proxy's reply to ``CONNECT`` once its head is complete, else None.

    Raises ``ValueError`` for a head that is not HTTP or is too long.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_CONNECT_REPLY:
            raise ValueError(f"the proxy's reply head is longer than {MAX_CONNECT_REPLY} bytes")
        return None
    status_line = buffer[:end].split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"the proxy did not answer CONNECT with HTTP: {status_line[:80]!r}")
    return ConnectReply(int(parts[1]), parts[2].strip() if len(parts) > 2 else "", buffer[end + 4:])


def absolute_target(scheme: str, host: str, port: int, target: str) -> str:
    """The absolute-form request-target for a forwarded request."""
    default = {"http": 80, "ws": 80}.get(scheme, 443)
    where = (f"[{host}]" if ":" in host else host) + ("" if port == default else f":{port}")
    return f"{scheme}://{where}{target}"


__all__ = [
    "DEFAULT_PROXY_PORT",
    "MAX_CONNECT_REPLY",
    "ConnectReply",
    "ProxyRoute",
    "ProxyServer",
    "ProxySettings",
    "absolute_target",
    "authority",
    "bypassed",
    "configured_proxy",
    "connect_request",
    "parse_connect_reply",
    "parse_proxy_url",
    "select_proxy",
]
