"""``signatureAuth``: sign a timestamp with the user's private key, expose it as vars.

promptfoo (spec section 15) renders ``signatureDataTemplate`` with only
``signatureTimestamp`` (epoch ms), turns each literal backslash-n into a
newline, signs the UTF-8 bytes with Node's ``createSign(signatureAlgorithm)``
(RSA: PKCS#1 v1.5; EC and DSA: DER signatures) and base64-encodes the result.
The signature and its timestamp become the ``signature`` and
``signatureTimestamp`` vars; nothing is added to the request by itself. A
signature is reused until ``elapsed + refreshBuffer >= validity``.

Key material is resolved when the target is built, so a missing or unusable
key is a load-time error: files come from ``Sources.files`` (read by the
binding, keyed by the path as written), PKCS#12 bundles are opened with
``cryptography``. Only an inline ``privateKey`` with template tags is rendered
per call; then each distinct rendered key gets its own cached signature
(promptfoo 0.123.1 reused the first key's signature; see docs/compat.md).
JKS keystores are read by ``jks`` (no Java, no extra package).
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Union

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from ..call import CallContext
from ..config.http import SignatureAuth
from ..config.timeouts import Timeouts
from ..errors import ConfigError, PromptwireError
from ..limits import MAX_SIGNATURE_CACHE, Limits
from ..sources import Sources, resolve_path
from ..templating import Template, TemplateEngine
from .jks import private_key
from .prestep import StepFlow

SigningKey = Union[
    rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
]

PREFIX = "Failed to generate signature: "
WHERE = "config.signatureAuth"
PEM_REQUIRED = "PEM private key is required. Provide privateKey, privateKeyPath, or certificateContent"
PFX_PASSWORD_REQUIRED = (
    "PFX certificate password is required. Provide it via config pfxPassword/certificatePassword or "
    "PROMPTFOO_PFX_PASSWORD environment variable"
)
PFX_REQUIRED = (
    "PFX type requires either pfxPath, pfxContent, both certPath and keyPath, or both certContent and keyContent"
)

# Node's createSign takes OpenSSL digest names, case-insensitively, with or
# without an ``RSA-`` prefix (``SHA256``, ``RSA-SHA256``, ``sha512``).
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512-224": hashes.SHA512_224,
    "sha512-256": hashes.SHA512_256,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}


def digest_for(name: str) -> hashes.HashAlgorithm:
    """The hash a ``signatureAlgorithm`` names; ``ConfigError`` for an unknown one."""
    key = name.strip().lower()
    for prefix in ("rsa-", "ecdsa-with-"):
        key = key.removeprefix(prefix)
    key = key.removesuffix("withrsaencryption").replace("_", "-")
    found = _DIGESTS.get(key)
    if found is None:
        raise ConfigError(
            f"unsupported signatureAlgorithm {name!r}; use one of "
            + ", ".join(n.upper() for n in _DIGESTS),
            f"{WHERE}.signatureAlgorithm",
        )
    return found()


# -- choosing the certificate type (spec 15.1) ----------------------------------------------


def detect_type(cfg: SignatureAuth) -> str:
    """``pem``, ``pfx`` or ``jks``: explicit ``type``, then the filename, then the fields given."""
    if cfg.type is not None:
        return cfg.type
    filename = cfg.certificateFilename
    if filename:
        ext = posixpath.splitext(filename)[1].lower()
        if ext in (".pfx", ".p12"):
            return "pfx"
        if ext == ".jks":
            return "jks"
        if ext in (".pem", ".key"):
            return "pem"
    if cfg.privateKeyPath or cfg.privateKey:
        return "pem"
    if cfg.keystorePath or cfg.keystoreContent:
        return "jks"
    if cfg.pfxPath or cfg.pfxContent or (cfg.certPath and cfg.keyPath) or (cfg.certContent and cfg.keyContent):
        return "pfx"
    if filename or cfg.certificateContent or cfg.certificatePassword:
        raise ConfigError(
            f"[Http Provider] Cannot determine certificate type from filename: {filename or '(none)'}; "
            "set `type` to pem, pfx or jks",
            WHERE,
        )
    return "pem"


# -- what is wrong with a key (spec 15.3, H:diagnosePrivateKeyMaterial) ----------------------


def diagnose(text: str) -> str | None:
    """Why ``text`` cannot be a usable unencrypted PEM private key, or None if it may be."""
    if not text.strip():
        return "it is empty"
    has_private = "PRIVATE KEY-----" in text
    if not has_private and "-----BEGIN CERTIFICATE-----" in text:
        return "it is a certificate, not a private key"
    if not has_private and "PUBLIC KEY-----" in text:
        return "it is a public key, not a private key"
    if "-----BEGIN" not in text or not has_private:
        return 'it is not PEM-encoded (no "-----BEGIN ... PRIVATE KEY-----" header)'
    if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in text or "Proc-Type: 4,ENCRYPTED" in text:
        return "it is passphrase-protected; decrypt it first or supply an unencrypted key"
    if "-----END" not in text:
        return 'it is truncated (no "-----END ... PRIVATE KEY-----" line)'
    return None


def _unescape_newlines(text: str) -> str:
    """An inline key written with literal ``\\n`` (single-quoted YAML) and no real line breaks."""
    return text.replace("\\n", "\n") if "\n" not in text and "\\n" in text else text


def load_pem_key(text: str, source: str) -> SigningKey:
    """Parse a PEM private key; the error says which key and what is wrong with it."""
    text = _unescape_newlines(text)
    reason = diagnose(text)
    if reason is None:
        try:
            key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            reason = f"it could not be parsed ({err})"
        else:
            return _signing_key(key, source)
    raise ValueError(f"Private key from {source} cannot be used: {reason}")


def _signing_key(key: Any, source: str) -> SigningKey:
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, dsa.DSAPrivateKey,
                        ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return key
    raise ValueError(f"Private key from {source} cannot be used: {type(key).__name__} keys cannot sign")


def sign(key: SigningKey, data: bytes, digest: hashes.HashAlgorithm) -> bytes:
    """What Node's ``createSign(alg).sign(key)`` produces for each key type."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), digest)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest))
    if isinstance(key, dsa.DSAPrivateKey):
        return key.sign(data, digest)
    return key.sign(data)  # Ed25519/Ed448 hash internally (Node needs crypto.sign for these)


def signed_data(rendered: str) -> bytes:
    """The bytes signed: the rendered template with each literal backslash-n a newline."""
    return rendered.replace("\\n", "\n").encode("utf-8")


# -- the step --------------------------------------------------------------------------------


class SignatureStep:
    """A ``PreStep`` adding ``signature`` and ``signatureTimestamp`` to a call's vars."""

    def __init__(self, *, key: SigningKey | None, key_template: Template | None, data_template: Template,
                 digest: hashes.HashAlgorithm, validity_ms: int, buffer_ms: int) -> None:
        self._key = key
        self._key_template = key_template
        self._data = data_template
        self._digest = digest
        self._validity_ms = validity_ms
        self._buffer_ms = buffer_ms
        # rendered key text (or "" for a key fixed at load time) -> (timestamp ms, signature)
        self._cache: OrderedDict[str, tuple[int, str]] = OrderedDict()

    @classmethod
    def compile(cls, cfg: SignatureAuth, sources: Sources, engine: TemplateEngine) -> SignatureStep:
        """Resolve the key now (``ConfigError`` if it is missing or unusable) unless it is a template."""
        kind = detect_type(cfg)
        digest = digest_for(cfg.signatureAlgorithm)
        try:
            data_template = engine.compile(cfg.signatureDataTemplate)
        except PromptwireError as err:
            raise ConfigError(str(err), f"{WHERE}.signatureDataTemplate") from None
        key: SigningKey | None = None
        key_template: Template | None = None
        try:
            if kind == "jks":
                key = _jks_key(cfg, sources, engine)
            elif kind == "pfx":
                key = _pfx_key(cfg, sources, engine)
            elif cfg.privateKeyPath:
                path = cfg.privateKeyPath
                key = load_pem_key(_file(sources, path, "privateKeyPath").decode("utf-8", "replace"),
                                   f"privateKeyPath {resolve_path(sources.base_dir, path)}")
            elif cfg.privateKey:
                template = engine.compile(cfg.privateKey)
                if template.has_tags:
                    key_template = template
                else:
                    key = load_pem_key(cfg.privateKey, "the configured privateKey")
            elif cfg.certificateContent:
                key = load_pem_key(_b64(cfg.certificateContent, "certificateContent").decode("utf-8", "replace"),
                                   "certificateContent")
            else:
                raise ValueError(PEM_REQUIRED)
        except ValueError as err:
            raise ConfigError(PREFIX + str(err), WHERE) from None
        buffer_ms = cfg.signatureRefreshBufferMs
        if buffer_ms is None:
            buffer_ms = cfg.signatureValidityMs // 10
        return cls(key=key, key_template=key_template, data_template=data_template, digest=digest,
                   validity_ms=cfg.signatureValidityMs, buffer_ms=buffer_ms)

    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        """No exchange: sign (or reuse the cached signature) and return the two vars."""
        del context, timeouts, limits
        now_ms = int(ctx.now.wall * 1000)
        cache_key = "" if self._key_template is None else self._key_template.render(vars)
        cached = self._cache.get(cache_key)
        if cached is None or now_ms - cached[0] + self._buffer_ms >= self._validity_ms:
            cached = (now_ms, self._sign(cache_key, now_ms))
            self._cache[cache_key] = cached
            while len(self._cache) > MAX_SIGNATURE_CACHE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(cache_key)
        return {"signature": cached[1], "signatureTimestamp": cached[0]}
        yield  # a generator with nothing to exchange

    def _sign(self, rendered_key: str, timestamp_ms: int) -> str:
        key = self._key
        if key is None:
            try:
                key = load_pem_key(rendered_key, "the configured privateKey")
            except ValueError as err:
                raise ConfigError(PREFIX + str(err), f"{WHERE}.privateKey") from None
        data = signed_data(self._data.render({"signatureTimestamp": timestamp_ms}))
        return base64.b64encode(sign(key, data, self._digest)).decode("ascii")


def _file(sources: Sources, path: str, option: str) -> bytes:
    data = sources.files.get(path)
    if data is None:
        raise ValueError(f"{option} {path!r} was not loaded (the binding reads it into Sources.files)")
    return data


def _b64(value: str, option: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{option} is not valid base64") from None


def _secret(value: str | None, engine: TemplateEngine) -> str | None:
    """A password option; ``{{env.X}}`` works (rendered once, with no call vars)."""
    if not value:
        return None
    return engine.compile(value).render({}) or None


def _pfx_key(cfg: SignatureAuth, sources: Sources, engine: TemplateEngine) -> SigningKey:
    bundle: bytes | None = None
    source = ""
    if cfg.pfxPath or cfg.pfxContent or cfg.certificateContent:
        password = (_secret(cfg.pfxPassword, engine) or _secret(cfg.certificatePassword, engine)
                    or sources.env.get("PROMPTFOO_PFX_PASSWORD"))
        if not password:
            raise ValueError(PFX_PASSWORD_REQUIRED)
        if cfg.pfxPath:
            bundle = _file(sources, cfg.pfxPath, "pfxPath")
            source = f"pfxPath {resolve_path(sources.base_dir, cfg.pfxPath)}"
        else:
            option = "pfxContent" if cfg.pfxContent else "certificateContent"
            bundle = _b64(cfg.pfxContent or cfg.certificateContent or "", option)
            source = option
        try:
            key, _, _ = pkcs12.load_key_and_certificates(bundle, password.encode("utf-8"))
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            raise ValueError(f"cannot open the PKCS#12 bundle from {source}: wrong password or not a "
                             f"PKCS#12 file ({err})") from None
        if key is None:
            raise ValueError(f"Private key from {source} cannot be used: the bundle holds no private key")
        return _signing_key(key, source)
    if cfg.certPath and cfg.keyPath:
        _file(sources, cfg.certPath, "certPath")
        text = _file(sources, cfg.keyPath, "keyPath").decode("utf-8", "replace")
        return load_pem_key(text, f"keyPath {resolve_path(sources.base_dir, cfg.keyPath)}")
    if cfg.certContent and cfg.keyContent:
        return load_pem_key(_b64(cfg.keyContent, "keyContent").decode("utf-8", "replace"), "keyContent")
    raise ValueError(PFX_REQUIRED)


JKS_PASSWORD_REQUIRED = (
    "JKS keystore password is required. Provide it via config keystorePassword/certificatePassword or "
    "PROMPTFOO_JKS_PASSWORD environment variable"
)


def _jks_key(cfg: SignatureAuth, sources: Sources, engine: TemplateEngine) -> SigningKey:
    """The key of ``keyAlias`` (default: the first private key entry) in a JKS keystore."""

    password = (_secret(cfg.keystorePassword, engine) or _secret(cfg.certificatePassword, engine)
                or sources.env.get("PROMPTFOO_JKS_PASSWORD"))
    if not password:
        raise ValueError(JKS_PASSWORD_REQUIRED)
    if cfg.keystoreContent or cfg.certificateContent:
        option = "keystoreContent" if cfg.keystoreContent else "certificateContent"
        data = _b64(cfg.keystoreContent or cfg.certificateContent or "", option)
    elif cfg.keystorePath:
        data = _file(sources, cfg.keystorePath, "keystorePath")
    else:
        raise ValueError("JKS type requires keystorePath, keystoreContent or certificateContent")
    try:
        entry = private_key(data, password, cfg.keyAlias or None,
                            key_password=_secret(cfg.keyPassword, engine))
    except ConfigError as err:
        raise ValueError(err.message) from None
    return load_pem_key(entry.key_pem.decode("ascii"), f"JKS alias {entry.alias!r}")


def file_paths(signature_auth: Any) -> list[tuple[str, str]]:
    """``(option, path)`` for each file a raw ``signatureAuth`` config names (for the loader)."""
    if not isinstance(signature_auth, Mapping):
        return []
    return [(option, signature_auth[option])
            for option in ("privateKeyPath", "pfxPath", "keystorePath", "certPath", "keyPath")
            if isinstance(signature_auth.get(option), str) and signature_auth[option]]


__all__ = [
    "SignatureStep",
    "detect_type",
    "diagnose",
    "digest_for",
    "file_paths",
    "load_pem_key",
    "sign",
    "signed_data",
]
