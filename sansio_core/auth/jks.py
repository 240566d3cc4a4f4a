"""Reading Java KeyStore (JKS) files: a private key and its certificate chain, as PEM.

promptfoo documents JKS for ``tls`` (``jksPath``/``jksContent``) and for
``signatureAuth`` (``type: jks``) through the ``jks-js`` npm package. Python
has no such reader in the standard library or in ``cryptography``, and JKS is
simple enough to read directly, so this module does, from the format:

* big-endian: magic ``0xFEEDFEED``, version (1 or 2), entry count, then per
  entry a tag (1: private key, 2: trusted certificate), an alias (Java
  ``writeUTF``: 2-byte length, modified UTF-8), an 8-byte timestamp, and
  either a protected key plus a certificate chain or one certificate (each
  certificate preceded, in version 2, by its type name, ``X.509``);
* last, a SHA-1 digest over ``password (UTF-16BE) + b"Mighty Aphrodite" +``
  everything before it: a wrong password is detected here, before any key
  is touched;
* a key is an ``EncryptedPrivateKeyInfo`` whose algorithm is Sun's JKS key
  protector (OID 1.3.6.1.4.1.42.2.17.1.1): 20 bytes of salt, the key XORed
  with a keystream of chained SHA-1 digests (``d = SHA1(password + d)``,
  starting from the salt), and a SHA-1 check digest of ``password + key``;
  the recovered key is PKCS#8 DER.

Every length field is checked against ``limits`` before use, and every
failure is a ``ConfigError`` that names the problem, never the password.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..errors import ConfigError
from ..limits import MAX_JKS_BLOB, MAX_JKS_CHAIN, MAX_JKS_ENTRIES, MAX_JKS_NAME

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
_WHITENER = b"Mighty Aphrodite"
_DIGEST_LEN = 20
_SALT_LEN = 20
# DER contents of OID 1.3.6.1.4.1.42.2.17.1.1 (Sun's proprietary JKS key protector).
_KEY_PROTECTOR_OID = bytes.fromhex("2b060104012a02110101")
_TAG_PRIVATE_KEY = 1
_TAG_TRUSTED_CERT = 2
_NOT_JKS = "not a JKS keystore (JCEKS/PKCS12 are not JKS)"


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """The key of one private key entry (PKCS#8 PEM) and its certificate chain (PEM, leaf first)."""

    alias: str
    key_pem: bytes
    chain_pem: bytes


@dataclass(frozen=True, slots=True)
class _Entry:
    alias: str
    protected_key: bytes | None  # None for a trusted certificate entry
    certs: tuple[tuple[str, bytes], ...]  # (type, DER)


class _Reader:
    """Bounded big-endian reads over the keystore bytes; running out is a ConfigError."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data = data
        self.pos = 0
        self.where = where

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ConfigError(f"the JKS keystore is truncated (in {what})", self.where)
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def name(self, what: str) -> str:
        length = self.uint(2, what)
        if length > MAX_JKS_NAME:
            raise ConfigError(f"the JKS keystore has a {what} of {length} bytes (limit {MAX_JKS_NAME})",
                              self.where)
        raw = self.take(length, what)
        try:
            return _modified_utf8(raw)
        except UnicodeDecodeError:
            raise ConfigError(f"the JKS keystore has a {what} that is not valid (modified) UTF-8",
                              self.where) from None

    def blob(self, what: str) -> bytes:
        length = self.uint(4, what)
        if length > MAX_JKS_BLOB:
            raise ConfigError(f"the JKS keystore has a {what} of {length} bytes (limit {MAX_JKS_BLOB})",
                              self.where)
        return self.take(length, what)


def _modified_utf8(raw: bytes) -> str:
    """Java's ``writeUTF`` text: NUL as C0 80, characters beyond the BMP as surrogate pairs."""
    text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _password_bytes(password: str) -> bytes:
    """Java's ``char[]`` password as the bytes both digests use (two per UTF-16 unit)."""
    return password.encode("utf-16-be", "surrogatepass")


def _kind_of(data: bytes) -> str:
    if len(data) >= 4 and int.from_bytes(data[:4], "big") == JCEKS_MAGIC:
        return f"{_NOT_JKS}: this is a JCEKS keystore; convert it with keytool -importkeystore " \
               "-deststoretype PKCS12 and use it as a PFX/PKCS#12 bundle"
    if data[:1] == b"\x30":
        return f"{_NOT_JKS}: this looks like a PKCS#12 (PFX) file; use the pfx options for it"
    return _NOT_JKS


class Keystore:
    """A parsed keystore whose integrity digest matched the password."""

    def __init__(self, entries: list[_Entry], password: str, where: str) -> None:
        self._entries = entries
        self._password = password
        self._where = where

    @property
    def aliases(self) -> list[str]:
        return [e.alias for e in self._entries]

    def key_entry(self, alias: str | None = None, key_password: str | None = None) -> KeyEntry:
        """The named private key entry (aliases compare case-insensitively, as Java's
        JKS does), or the first one in the file when ``alias`` is None or empty.
        ``key_password``: the key's own password when it differs from the store's."""
        where = self._where
        if not self._entries:
            raise ConfigError("No certificates found in JKS file", where)
        if alias:
            found = [e for e in self._entries if e.alias.lower() == alias.lower()]
            if not found:
                raise ConfigError(f"Alias {alias!r} not found in JKS file. Available aliases: "
                                  + ", ".join(self.aliases), where)
            entry = found[0]
            if entry.protected_key is None:
                raise ConfigError(f"no private key entry named {alias!r} in the JKS file (it is a trusted "
                                  "certificate entry, which holds no key)", where)
        else:
            keys = [e for e in self._entries if e.protected_key is not None]
            if not keys:
                raise ConfigError("No private key found in JKS file (it holds only trusted certificates: "
                                  + ", ".join(self.aliases) + ")", where)
            entry = keys[0]
        assert entry.protected_key is not None
        key_der = _unprotect(entry.protected_key, key_password or self._password, entry.alias, where,
                             own_password=bool(key_password))
        try:
            key = serialization.load_der_private_key(key_der, password=None)
            key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            raise ConfigError(f"the key of JKS alias {entry.alias!r} cannot be read ({err})", where) from None
        chain = b"".join(_cert_pem(kind, der, entry.alias, where) for kind, der in entry.certs)
        return KeyEntry(entry.alias, key_pem, chain)


def _cert_pem(kind: str, der: bytes, alias: str, where: str) -> bytes:
    if kind != "X.509":
        raise ConfigError(f"JKS alias {alias!r} has a {kind!r} certificate; only X.509 is supported", where)
    try:
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    except ValueError as err:
        raise ConfigError(f"a certificate of JKS alias {alias!r} cannot be read ({err})", where) from None


def read_keystore(data: bytes, password: str, *, where: str = "") -> Keystore:
    """Parse ``data`` and check its integrity digest against ``password``.

    ``where`` is the config path errors name (e.g. ``config.tls.jksPath``).
    """
    r = _Reader(data, where)
    if len(data) < 4 or r.uint(4, "header") != JKS_MAGIC:
        raise ConfigError(_kind_of(data), where)
    version = r.uint(4, "header")
    if version not in (1, 2):
        raise ConfigError(f"unsupported JKS keystore version {version} (1 and 2 exist)", where)
    count = r.uint(4, "header")
    if count > MAX_JKS_ENTRIES:
        raise ConfigError(f"the JKS keystore declares {count} entries (limit {MAX_JKS_ENTRIES})", where)
    entries: list[_Entry] = []
    for _ in range(count):
        tag = r.uint(4, "entry tag")
        alias = r.name("alias")
        r.take(8, "entry timestamp")
        if tag == _TAG_PRIVATE_KEY:
            key = r.blob("protected key")
            n = r.uint(4, "certificate chain")
            if n > MAX_JKS_CHAIN:
                raise ConfigError(f"JKS alias {alias!r} has a chain of {n} certificates (limit {MAX_JKS_CHAIN})",
                                  where)
            chain = tuple(_read_cert(r, version) for _ in range(n))
            entries.append(_Entry(alias, key, chain))
        elif tag == _TAG_TRUSTED_CERT:
            entries.append(_Entry(alias, None, (_read_cert(r, version),)))
        else:
            raise ConfigError(f"the JKS keystore has an entry of unknown type {tag} (alias {alias!r}); "
                              "secret key entries exist only in JCEKS/PKCS12", where)
    remaining = len(data) - r.pos
    if remaining != _DIGEST_LEN:
        what = "truncated" if remaining < _DIGEST_LEN else f"followed by {remaining - _DIGEST_LEN} extra bytes"
        raise ConfigError(f"the JKS keystore is {what} (after its entries)", where)
    body = data[:r.pos]
    expected = hashlib.sha1(_password_bytes(password) + _WHITENER + body).digest()
    if not hmac.compare_digest(expected, data[r.pos:]):
        raise ConfigError("wrong keystore password, or the JKS file is corrupt (its integrity check failed)",
                          where)
    return Keystore(entries, password, where)


def _read_cert(r: _Reader, version: int) -> tuple[str, bytes]:
    kind = r.name("certificate type") if version == 2 else "X.509"
    return kind, r.blob("certificate")


# -- the key protector -----------------------------------------------------------------------


def _der_tlv(data: bytes, pos: int, end: int, where: str) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``pos``."""
    if pos + 2 > end:
        raise ConfigError("a JKS key is not valid DER (truncated)", where)
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        size = first & 0x7F
        if size == 0 or size > 4 or pos + size > end:
            raise ConfigError("a JKS key is not valid DER (bad length)", where)
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    if pos + length > end:
        raise ConfigError("a JKS key is not valid DER (truncated)", where)
    return tag, pos, pos + length


def _oid_text(der: bytes) -> str:
    if not der:
        return "(empty)"
    parts = [str(min(der[0] // 40, 2)), str(der[0] - 40 * min(der[0] // 40, 2))]
    value = 0
    for byte in der[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(str(value))
            value = 0
    return ".".join(parts)


def _unprotect(epki: bytes, password: str, alias: str, where: str, *, own_password: bool = False) -> bytes:
    """The PKCS#8 DER inside a JKS ``EncryptedPrivateKeyInfo``."""
    tag, start, end = _der_tlv(epki, 0, len(epki), where)
    if tag != 0x30:
        raise ConfigError(f"the key of JKS alias {alias!r} is not an EncryptedPrivateKeyInfo", where)
    tag, alg_start, alg_end = _der_tlv(epki, start, end, where)
    if tag != 0x30:
        raise ConfigError(f"the key of JKS alias {alias!r} is not an EncryptedPrivateKeyInfo", where)
    tag, oid_start, oid_end = _der_tlv(epki, alg_start, alg_end, where)
    oid = epki[oid_start:oid_end]
    if tag != 0x06 or oid != _KEY_PROTECTOR_OID:
        raise ConfigError(f"the key of JKS alias {alias!r} is protected with algorithm {_oid_text(oid)}; "
                          "only Sun's JKS key protector (1.3.6.1.4.1.42.2.17.1.1) is supported", where)
    tag, data_start, data_end = _der_tlv(epki, alg_end, end, where)
    if tag != 0x04:
        raise ConfigError(f"the key of JKS alias {alias!r} is not an EncryptedPrivateKeyInfo", where)
    blob = epki[data_start:data_end]
    if len(blob) < _SALT_LEN + _DIGEST_LEN:
        raise ConfigError(f"the protected key of JKS alias {alias!r} is too short", where)
    pw = _password_bytes(password)
    salt, body, check = blob[:_SALT_LEN], blob[_SALT_LEN:-_DIGEST_LEN], blob[-_DIGEST_LEN:]
    stream = bytearray()
    digest = salt
    while len(stream) < len(body):
        digest = hashlib.sha1(pw + digest).digest()
        stream += digest
    key = bytes(a ^ b for a, b in zip(body, stream[:len(body)], strict=True))
    if not hmac.compare_digest(hashlib.sha1(pw + key).digest(), check):
        if own_password:
            raise ConfigError(f"wrong key password (keyPassword) for the key of JKS alias {alias!r}", where)
        raise ConfigError(f"wrong password for the key of JKS alias {alias!r} (the keystore password opened "
                          "the store but not this key: give the key's own password in keyPassword)", where)
    return key


def private_key(data: bytes, password: str, alias: str | None = None, *, where: str = "",
                key_password: str | None = None) -> KeyEntry:
    """The private key entry ``alias`` (default: the first one) of the JKS keystore ``data``;
    ``key_password`` when the key's password differs from the store's."""
    return read_keystore(data, password, where=where).key_entry(alias, key_password)


__all__ = ["KeyEntry", "Keystore", "private_key", "read_keystore"]
