"""The ``tls`` block of an HTTP config -> ``TlsParams`` (bytes, never paths).

``caPath``/``certPath``/``keyPath``/``pfxPath``/``jksPath`` files are read by
the binding's loader into ``Sources.files`` (keyed by the path as written);
inline ``ca``/``cert``/``key`` PEM strings are used as they are. A client
identity can also come from a PKCS#12 bundle (``pfx``/``pfxPath``) or a Java
keystore (``jksPath``/``jksContent``, ``keyAlias``): both are opened here,
when the target is built, and handed on as PEM, so the binding only ever sees
one form and a wrong passphrase is a load-time error. promptfoo 0.123.1
strips the JKS options from its schema (spec 16.1); its docs say they work,
and here they do.

Without a ``tls`` block the server certificate is still verified against the
system store: promptfoo does not verify there (``PROMPTFOO_INSECURE_SSL``
defaults to true), promptwire does, because a test tool must not teach users
to ignore certificates.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ..actions import TlsParams
from ..auth.jks import private_key
from ..errors import ConfigError
from ..http.prepared import PreparedRequest
from ..sources import Sources
from ..templating import TemplateEngine, has_tags

TLS_PATH_KEYS = ("caPath", "certPath", "keyPath", "pfxPath", "jksPath")
JKS_PREFIX = "Failed to load JKS certificate: "

# Node's ``secureProtocol`` method names -> (min, max) TLS versions. The
# version-flexible methods leave both open; the fixed ones pin one version.
# (``TLSv1_3_method`` is not an OpenSSL method, but promptfoo's docs use it.)
SECURE_PROTOCOLS: dict[str, tuple[str | None, str | None]] = {
    "TLS_method": (None, None),
    "TLS_client_method": (None, None),
    "SSLv23_method": (None, None),
    "SSLv23_client_method": (None, None),
    "TLSv1_method": ("TLSv1", "TLSv1"),
    "TLSv1_client_method": ("TLSv1", "TLSv1"),
    "TLSv1_1_method": ("TLSv1.1", "TLSv1.1"),
    "TLSv1_1_client_method": ("TLSv1.1", "TLSv1.1"),
    "TLSv1_2_method": ("TLSv1.2", "TLSv1.2"),
    "TLSv1_2_client_method": ("TLSv1.2", "TLSv1.2"),
    "TLSv1_3_method": ("TLSv1.3", "TLSv1.3"),
    "TLSv1_3_client_method": ("TLSv1.3", "TLSv1.3"),
}

# promptfoo's H:isBase64 test for an inline ``pfx`` string (spec 16.2).
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _pem(inline: str | Sequence[str] | None, path: str | None, sources: Sources, where: str) -> bytes | None:
    if inline is not None:
        parts = [inline] if isinstance(inline, str) else list(inline)
        return "\n".join(parts).encode("utf-8")
    if path is None:
        return None
    return _file(path, sources, where)


def _file(path: str, sources: Sources, where: str) -> bytes:
    try:
        return sources.files[path]
    except KeyError:
        raise ConfigError(f"the file {path!r} was not loaded", where) from None


def _passphrase(tls: Any, sources: Sources, value: str | None) -> str | None:
    """A password option, with ``{{env.X}}`` rendered (the docs' example)."""
    if not value:
        return None

    if has_tags(value):
        value = TemplateEngine.from_env(sources.env).compile(value).render({})
    return str(value) or None


def _pfx_bytes(tls: Any, sources: Sources) -> tuple[bytes, str]:
    if tls.pfx is not None:
        if isinstance(tls.pfx, bytes):
            return tls.pfx, "tls.pfx"
        text = tls.pfx
        if len(text) % 4 == 0 and len(text) > 100 and _BASE64.match(text):
            return base64.b64decode(text), "tls.pfx"
        return text.encode("utf-8"), "tls.pfx"
    return _file(tls.pfxPath, sources, "tls.pfxPath"), "tls.pfxPath"


def _from_pfx(tls: Any, sources: Sources, passphrase: str | None) -> tuple[bytes, bytes]:
    """(certificate chain PEM, unencrypted PKCS#8 key PEM) from a PKCS#12 bundle."""
    data, where = _pfx_bytes(tls, sources)
    passwords = [passphrase.encode("utf-8")] if passphrase else [None, b""]
    loaded = None
    for password in passwords:
        try:
            loaded = pkcs12.load_key_and_certificates(data, password)
            break
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    if loaded is None:
        raise ConfigError("cannot open the PFX/PKCS#12 bundle: wrong passphrase or not a PKCS#12 file"
                          + ("" if passphrase else " (no tls.passphrase given)"), where)
    key, cert, extra = loaded
    if key is None or cert is None:
        raise ConfigError("the PFX/PKCS#12 bundle holds no private key and certificate", where)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *extra])
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return chain, key_pem


def _from_jks(tls: Any, sources: Sources, passphrase: str | None) -> tuple[bytes, bytes]:

    if tls.jksContent is not None:
        where = "tls.jksContent"
        try:
            data = base64.b64decode("".join(tls.jksContent.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(JKS_PREFIX + "jksContent is not valid base64", where) from None
    else:
        where = "tls.jksPath"
        data = _file(tls.jksPath, sources, where)
    password = (passphrase or _passphrase(tls, sources, tls.keystorePassword)
                or sources.env.get("PROMPTFOO_JKS_PASSWORD"))
    if not password:
        raise ConfigError(JKS_PREFIX + "JKS keystore password is required. Provide it via tls.passphrase "
                          "(or tls.keystorePassword) or the PROMPTFOO_JKS_PASSWORD environment variable", where)
    try:
        entry = private_key(data, password, tls.keyAlias or None)
    except ConfigError as err:
        raise ConfigError(JKS_PREFIX + err.message, where) from None
    return entry.chain_pem, entry.key_pem


def _versions(tls: Any) -> tuple[str | None, str | None]:
    method = tls.secureProtocol
    if not method:
        return tls.minVersion, tls.maxVersion
    if tls.minVersion or tls.maxVersion:
        raise ConfigError("tls.secureProtocol cannot be combined with minVersion/maxVersion (Node refuses "
                          "the combination too); use one or the other", "tls.secureProtocol")
    found = SECURE_PROTOCOLS.get(method)
    if found is None:
        raise ConfigError(f"unknown or unsupported tls.secureProtocol {method!r}; use one of "
                          + ", ".join(SECURE_PROTOCOLS) + " (SSLv2/SSLv3 are not supported)",
                          "tls.secureProtocol")
    return found


def tls_params(config: Any, sources: Sources) -> TlsParams | None:
    """``None`` when the config has no ``tls`` block (default verification applies)."""
    tls = getattr(config, "tls", None)
    if tls is None:
        return None
    passphrase = _passphrase(tls, sources, tls.passphrase)
    given = [name for name, present in (
        ("cert/key", tls.cert is not None or tls.certPath is not None),
        ("pfx", tls.pfx is not None or tls.pfxPath is not None),
        ("jks", tls.jksPath is not None or tls.jksContent is not None),
    ) if present]
    if len(given) > 1:
        raise ConfigError("give one client identity: " + " or ".join(given) + " (not several)", "tls")
    cert = _pem(tls.cert, tls.certPath, sources, "tls.certPath")
    key = _pem(tls.key, tls.keyPath, sources, "tls.keyPath")
    key_password = passphrase.encode("utf-8") if passphrase else None
    if given == ["pfx"]:
        cert, key = _from_pfx(tls, sources, passphrase)
        key_password = None
    elif given == ["jks"]:
        cert, key = _from_jks(tls, sources, passphrase)
        key_password = None
    min_version, max_version = _versions(tls)
    return TlsParams(
        server_name=tls.servername or "",
        verify=tls.rejectUnauthorized,
        ca=_pem(tls.ca, tls.caPath, sources, "tls.caPath"),
        cert_chain=cert,
        key=key,
        key_password=key_password,
        ciphers=tls.ciphers,
        min_version=min_version,
        max_version=max_version,
    )


@lru_cache(maxsize=256)
def _with_host(base: TlsParams, host: str) -> TlsParams:
    return replace(base, server_name=host)


def tls_for(base: TlsParams | None, req: PreparedRequest) -> TlsParams | None:
    """The TLS settings of one https request: SNI from its host unless
    ``tls.servername`` is set; ``None`` for plain http. Cached per host, so a
    call does not rebuild the settings (or miss the binding's context cache)."""
    if req.scheme != "https":
        return None
    if base is None:
        return _with_host(_DEFAULT, req.host)
    return base if base.server_name else _with_host(base, req.host)


_DEFAULT = TlsParams(server_name="")

__all__ = ["JKS_PREFIX", "SECURE_PROTOCOLS", "TLS_PATH_KEYS", "tls_for", "tls_params"]
