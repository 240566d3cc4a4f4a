"""``TlsParams`` (pure data from the core) -> ``ssl.SSLContext``, built once per setting.

Certificates are verified unless the config says ``rejectUnauthorized: false``
(promptfoo skips verification when there is no ``tls`` block; promptwire does
not reproduce that). Key material arrives as bytes; ``load_cert_chain`` only
takes paths, so it goes through a private temporary file that is removed at once.

``tls.ciphers`` may name TLS 1.3 suites (Node's form); Python's ``ssl`` offers
its TLS 1.3 defaults whatever it is told, so every backend calls
``check_negotiated`` after the handshake and refuses a suite the config did not
allow. ``check_params`` builds the context when the target is built, so a bad
cipher list is a ``ConfigError`` then, not a failure of every call.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
from typing import Any

from sansio_core.actions import TlsParams
from sansio_core.errors import ConfigError

_cache: dict[tuple[Any, ...], ssl.SSLContext] = {}
# The TLS 1.3 suites each cached context allows (contexts live as long as the cache).
_tls13_allowed: dict[int, frozenset[str]] = {}
_lock = threading.Lock()

_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def context_for(params: TlsParams) -> ssl.SSLContext:
    key = params.pool_key()
    ctx = _cache.get(key)
    if ctx is None:
        with _lock:
            ctx = _cache.get(key)
            if ctx is None:
                ctx = _build(params)
                if params.tls13_ciphers is not None:
                    _tls13_allowed[id(ctx)] = frozenset(params.tls13_ciphers)
                _cache[key] = ctx
    return ctx


class TlsPolicyError(ssl.SSLError):
    """The handshake succeeded with a suite ``tls.ciphers`` does not allow."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "TLS policy violation"


def check_negotiated(ctx: ssl.SSLContext, cipher: tuple[str, str, int] | None) -> None:
    """Raise ``TlsPolicyError`` when a TLS 1.3 connection negotiated a suite outside
    the configured ``tls.ciphers`` (``cipher`` as ``SSLSocket.cipher()`` gives it)."""
    allowed = _tls13_allowed.get(id(ctx))
    if allowed is None or cipher is None:
        return
    name, version = cipher[0], cipher[1]
    if version == "TLSv1.3" and name not in allowed:
        raise TlsPolicyError(f"the server chose TLS 1.3 suite {name}, which tls.ciphers does not allow "
                             f"({':'.join(sorted(allowed))}); allow it in tls.ciphers or configure the server")


def check_params(params: TlsParams) -> None:
    """Build the context now: a setting OpenSSL refuses is a ``ConfigError`` naming it."""
    try:
        context_for(params)
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if params.ciphers and "cipher" in str(exc).lower():
            raise ConfigError(f"OpenSSL accepts none of the ciphers {params.ciphers!r} ({reason})",
                              "tls.ciphers") from None
        raise ConfigError(f"OpenSSL refused the TLS settings ({reason})", "tls") from None


def _build(p: TlsParams) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if p.ca is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=p.ca.decode("ascii", "replace"))
    if not p.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if p.cert_chain is not None:
        _load_chain(ctx, p.cert_chain, p.key, p.key_password)
    if p.ciphers:
        ctx.set_ciphers(p.ciphers)  # TLS 1.2 and below; TLS 1.3 is checked after the handshake
    if p.min_version:
        ctx.minimum_version = _VERSIONS[p.min_version]
    if p.max_version:
        ctx.maximum_version = _VERSIONS[p.max_version]
    if p.alpn:
        ctx.set_alpn_protocols(list(p.alpn))
    return ctx


def _load_chain(ctx: ssl.SSLContext, chain: bytes, key: bytes | None, password: bytes | None) -> None:
    fd, path = tempfile.mkstemp(prefix="promptwire-", suffix=".pem")
    try:
        os.chmod(path, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(chain)
            if key is not None:
                f.write(b"\n" + key)
        ctx.load_cert_chain(path, password=password)
    finally:
        os.unlink(path)
