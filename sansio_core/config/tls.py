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
to ignore certificates. ``PROMPTFOO_CA_CERT_PATH`` (promptfoo's extra CA for
targets without a ``tls`` block, typically an intercepting proxy's) is
trusted in addition; the binding read the file into ``Sources.files`` under
the variable's value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from cryptography import x509
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
ENV_CA_PATH = "PROMPTFOO_CA_CERT_PATH"
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

# The TLS 1.3 suites (RFC 8446 names, as Node and OpenSSL spell them). Node
# takes them in ``ciphers`` next to OpenSSL's TLS 1.2 names; Python's ``ssl``
# cannot select among them, so the binding offers its defaults and checks the
# negotiated suite against this set after the handshake.
TLS13_SUITES = frozenset({
    "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256",
})
_VERSION_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

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


def _split_ciphers(text: str | None) -> tuple[str | None, tuple[str, ...] | None]:
    """Node's split of ``ciphers``: (the OpenSSL TLS 1.2 list or None, the TLS 1.3 suites
    or None when none is named)."""
    if not text or not text.strip():
        return None, None
    tls12: list[str] = []
    tls13: list[str] = []
    for name in (n.strip() for n in text.split(":")):
        if not name:
            continue
        if name.startswith("TLS_"):
            if name not in TLS13_SUITES:
                raise ConfigError(f"unknown TLS 1.3 cipher suite {name!r}; TLS 1.3 suites are "
                                  + ", ".join(sorted(TLS13_SUITES)), "tls.ciphers")
            tls13.append(name)
        else:
            tls12.append(name)
    return (":".join(tls12) or None), (tuple(tls13) or None)


def _cipher_versions(tls12: str | None, tls13: tuple[str, ...] | None, min_version: str | None,
                     max_version: str | None) -> tuple[str | None, str | None]:
    """Node's rule: a ``ciphers`` list without TLS 1.3 suites caps the version at
    TLS 1.2; one with only TLS 1.3 suites raises the floor to TLS 1.3."""
    def rank(v: str | None, default: int) -> int:
        return _VERSION_ORDER.index(v) if v in _VERSION_ORDER else default

    lo, hi = rank(min_version, 0), rank(max_version, 3)
    if tls13 is None and tls12 is not None and hi > 2 and lo < 3:
        max_version = "TLSv1.2"
    if tls12 is None and tls13 is not None and lo < 3 and hi > 2:
        min_version = "TLSv1.3"
    if rank(min_version, 0) > rank(max_version, 3):
        raise ConfigError(f"the cipher list leaves no TLS version between {min_version} and {max_version}",
                          "tls.ciphers")
    return min_version, max_version


def _option(inline: Any, path_option: str, inline_option: str) -> str:
    return inline_option if inline is not None else path_option


def _certificates(data: bytes, where: str, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"not a PEM {what} (expected -----BEGIN CERTIFICATE----- blocks)", where) from None


def _private_key(data: bytes, password: bytes | None, where: str) -> Any:
    """The key, decrypted now so a wrong passphrase is a build-time error."""
    try:
        return serialization.load_pem_private_key(data, password)
    except TypeError:
        if password is None:
            raise ConfigError("the private key is encrypted: give its password in tls.passphrase", where) from None
        # A passphrase for a key that is not encrypted is ignored, as OpenSSL does.
        return _private_key(data, None, where)
    except (ValueError, UnsupportedAlgorithm):
        if password is not None and b"ENCRYPTED" in data:
            raise ConfigError("cannot decrypt the private key: tls.passphrase is wrong", where) from None
        raise ConfigError("not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)", where) from None


def _checked_identity(tls: Any, cert: bytes, key: bytes | None, password: bytes | None) -> tuple[bytes, bytes]:
    """(chain, unencrypted PKCS#8 key) after checking both parse and belong together."""
    cert_where = _option(tls.cert, "tls.certPath", "tls.cert")
    key_where = _option(tls.key, "tls.keyPath", "tls.key")
    chain = _certificates(cert, cert_where, "client certificate")
    if key is None:
        raise ConfigError("a client certificate needs its key (tls.key or tls.keyPath)", "tls")
    private = _private_key(key, password, key_where)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(serialization.Encoding.DER, spki) != \
            private.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ConfigError(f"the private key does not belong to the certificate of {cert_where}", key_where)
    return cert, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


def tls_params(config: Any, sources: Sources) -> TlsParams | None:
    """``None`` when the config has no ``tls`` block (default verification applies),
    unless ``PROMPTFOO_CA_CERT_PATH`` names an extra CA to trust."""
    tls = getattr(config, "tls", None)
    if tls is None:
        return _env_ca(sources)
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
    if given == ["pfx"]:
        cert, key = _from_pfx(tls, sources, passphrase)
    elif given == ["jks"]:
        cert, key = _from_jks(tls, sources, passphrase)
    elif cert is not None:
        cert, key = _checked_identity(tls, cert, key, passphrase.encode("utf-8") if passphrase else None)
    ca = _pem(tls.ca, tls.caPath, sources, "tls.caPath")
    if ca is not None:
        _certificates(ca, _option(tls.ca, "tls.caPath", "tls.ca"), "CA certificate")
    tls12, tls13 = _split_ciphers(tls.ciphers)
    min_version, max_version = _cipher_versions(tls12, tls13, *_versions(tls))
    return TlsParams(
        server_name=tls.servername or "",
        verify=tls.rejectUnauthorized,
        ca=ca,
        cert_chain=cert,
        key=key,
        ciphers=tls12,
        tls13_ciphers=tls13,
        min_version=min_version,
        max_version=max_version,
    )


@lru_cache(maxsize=256)
def _with_host(base: TlsParams, host: str) -> TlsParams:
    return replace(base, server_name=host)


def _env_ca(sources: Sources) -> TlsParams | None:
    path = (sources.env.get(ENV_CA_PATH) or "").strip()
    if not path:
        return None
    ca = _file(path, sources, ENV_CA_PATH)
    _certificates(ca, ENV_CA_PATH, "CA certificate")
    return TlsParams(server_name="", ca=ca)


def tls_for(base: TlsParams | None, req: PreparedRequest) -> TlsParams | None:
    """The TLS settings of one https request: SNI from its host unless
    ``tls.servername`` is set; ``None`` for plain http. Cached per host, so a
    call does not rebuild the settings (or miss the binding's context cache)."""
    if req.scheme != "https":
        return None
    return tls_for_host(base, req.host)


def tls_for_host(base: TlsParams | None, host: str) -> TlsParams:
    """The TLS settings for a connection to ``host`` (``https``, ``wss``): SNI from
    the host unless ``tls.servername`` is set."""
    if base is None:
        return _with_host(_DEFAULT, host)
    return base if base.server_name else _with_host(base, host)


_DEFAULT = TlsParams(server_name="")

__all__ = ["ENV_CA_PATH", "JKS_PREFIX", "SECURE_PROTOCOLS", "TLS13_SUITES", "TLS_PATH_KEYS", "tls_for", "tls_for_host", "tls_params"]
