"""The ``tls`` block of an HTTP config -> ``TlsParams`` (bytes, never paths).

``caPath``/``certPath``/``keyPath`` files are read by the binding's loader
into ``Sources.files`` (keyed by the path as written); inline ``ca``/``cert``/
``key`` PEM strings are used as they are. Without a ``tls`` block the server
certificate is still verified against the system store: promptfoo does not
verify there (``PROMPTFOO_INSECURE_SSL`` defaults to true), promptwire does,
because a test tool must not teach users to ignore certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .actions import TlsParams
from .errors import ConfigError
from .sources import Sources

TLS_PATH_KEYS = ("caPath", "certPath", "keyPath")


def _pem(inline: str | Sequence[str] | None, path: str | None, sources: Sources, where: str) -> bytes | None:
    if inline is not None:
        parts = [inline] if isinstance(inline, str) else list(inline)
        return "\n".join(parts).encode("utf-8")
    if path is None:
        return None
    try:
        return sources.files[path]
    except KeyError:
        raise ConfigError(f"the file {path!r} was not loaded", where) from None


def tls_params(config: Any, sources: Sources) -> TlsParams | None:
    """``None`` when the config has no ``tls`` block (default verification applies)."""
    tls = getattr(config, "tls", None)
    if tls is None:
        return None
    return TlsParams(
        server_name=tls.servername or "",
        verify=tls.rejectUnauthorized,
        ca=_pem(tls.ca, tls.caPath, sources, "tls.caPath"),
        cert_chain=_pem(tls.cert, tls.certPath, sources, "tls.certPath"),
        key=_pem(tls.key, tls.keyPath, sources, "tls.keyPath"),
        key_password=tls.passphrase.encode() if tls.passphrase else None,
        ciphers=tls.ciphers,
        min_version=tls.minVersion,
        max_version=tls.maxVersion,
    )


__all__ = ["TLS_PATH_KEYS", "tls_params"]
