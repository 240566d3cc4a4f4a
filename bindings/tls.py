"""``TlsParams`` (pure data from the core) -> ``ssl.SSLContext``, built once per setting.

Certificates are verified unless the config says ``rejectUnauthorized: false``
(promptfoo skips verification when there is no ``tls`` block; promptwire does
not reproduce that). Key material arrives as bytes; ``load_cert_chain`` only
takes paths, so it goes through a private temporary file that is removed at once.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
from typing import Any

from sansio_core.actions import TlsParams

_cache: dict[tuple[Any, ...], ssl.SSLContext] = {}
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
                _cache[key] = ctx
    return ctx


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
        ctx.set_ciphers(p.ciphers)
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
