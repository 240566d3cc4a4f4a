"""The JKS reader on keystores made by keytool (tests/fixtures/jks, see its README),
and what ``signatureAuth`` / ``tls`` do with them."""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from sansio_core.auth import jks
from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.tls import tls_params
from sansio_core.errors import ConfigError
from sansio_core.limits import MAX_JKS_BLOB, MAX_JKS_ENTRIES
from sansio_core.sources import Sources

from .test_signature import call, header, target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jks"
STORE = (FIXTURES / "client.jks").read_bytes()
PASSWORD = "changeit"


def cert_of(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((FIXTURES / name).read_bytes())


def matches(key_pem: bytes, cert: x509.Certificate) -> bool:
    key = serialization.load_pem_private_key(key_pem, None)
    return bool(key.public_key() == cert.public_key())  # type: ignore[operator]


def test_first_private_key_entry_by_default() -> None:
    entry = jks.private_key(STORE, PASSWORD)
    assert entry.alias == "client"
    assert entry.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert matches(entry.key_pem, cert_of("client-cert.pem"))
    chain = x509.load_pem_x509_certificates(entry.chain_pem)
    assert chain == [cert_of("client-cert.pem")]


def test_alias_is_case_insensitive_and_ec_keys_work() -> None:
    entry = jks.private_key(STORE, PASSWORD, "SECOND")
    assert entry.alias == "second"
    key = serialization.load_pem_private_key(entry.key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert matches(entry.key_pem, cert_of("second-cert.pem"))


def test_aliases_in_file_order() -> None:
    assert jks.read_keystore(STORE, PASSWORD).aliases == ["client", "second", "peer"]


@pytest.mark.parametrize(("data", "password", "alias", "message"), [
    (STORE, "Zq8x-bad", None, "wrong keystore password"),
    (STORE, PASSWORD, "nobody", "Alias 'nobody' not found in JKS file. Available aliases: client, second, peer"),
    (STORE, PASSWORD, "peer", "no private key entry named 'peer'"),
    ((FIXTURES / "trusted-only.jks").read_bytes(), PASSWORD, None, "No private key found in JKS file"),
    ((FIXTURES / "client.jceks").read_bytes(), PASSWORD, None, "not a JKS keystore (JCEKS/PKCS12 are not JKS): "
                                                               "this is a JCEKS keystore"),
    ((FIXTURES / "client.p12").read_bytes(), PASSWORD, None, "this looks like a PKCS#12"),
    (b"", PASSWORD, None, "not a JKS keystore"),
    (STORE[:200], PASSWORD, None, "truncated"),
    (STORE + b"x", PASSWORD, None, "followed by 1 extra bytes"),
    (STORE[:18] + b"\xa0" * 6 + STORE[24:], PASSWORD, None, "alias that is not valid (modified) UTF-8"),
    (STORE[:4] + b"\x00\x00\x00\x03" + STORE[8:], PASSWORD, None, "unsupported JKS keystore version 3"),
    (STORE[:8] + struct.pack(">I", MAX_JKS_ENTRIES + 1) + STORE[12:], PASSWORD, None, "declares 4097 entries"),
])
def test_errors_say_what_is_wrong_and_never_the_password(data: bytes, password: str, alias: str | None,
                                                         message: str) -> None:
    with pytest.raises(ConfigError) as info:
        jks.private_key(data, password, alias, where="config.tls.jksPath")
    assert message in str(info.value)
    assert info.value.path == "config.tls.jksPath"
    assert password not in str(info.value)


def _restamp(body: bytes, password: str) -> bytes:
    """A keystore body with a valid integrity digest (as if keytool wrote it)."""
    return body + hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()


def test_oversized_length_fields_are_refused_before_reading() -> None:
    # The first entry's protected-key length, set beyond the blob limit.
    alias_len = struct.unpack(">H", STORE[16:18])[0]
    at = 18 + alias_len + 8
    data = STORE[:at] + struct.pack(">I", MAX_JKS_BLOB + 1) + STORE[at + 4:]
    with pytest.raises(ConfigError, match="protected key of 65537 bytes"):
        jks.private_key(data, PASSWORD)


def test_a_key_protected_with_another_password_is_reported() -> None:
    # Re-sign the store with a different store password: the store opens, the key does not.
    body = STORE[:-20]
    with pytest.raises(ConfigError, match="wrong password for the key of JKS alias 'client'") as info:
        jks.private_key(_restamp(body, "other"), "other")
    assert "other" not in str(info.value).replace("the keystore password", "")


def test_tampered_key_bytes_fail_the_check_digest() -> None:
    alias_len = struct.unpack(">H", STORE[16:18])[0]
    at = 18 + alias_len + 8 + 4 + 60  # inside the first encrypted key
    body = bytearray(STORE[:-20])
    body[at] ^= 0xFF
    with pytest.raises(ConfigError, match="wrong password for the key"):
        jks.private_key(_restamp(bytes(body), PASSWORD), PASSWORD)


# -- signatureAuth type jks ------------------------------------------------------------------


def _verify_with_cert(cert: x509.Certificate, req: Any) -> None:
    public = cert.public_key()
    sig = base64.b64decode(header(req, "x-signature"))
    data = header(req, "x-timestamp").encode()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(sig, data, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(("sig", "env", "cert"), [
    ({"type": "jks", "keystorePath": "k.jks", "keystorePassword": PASSWORD}, {}, "client-cert.pem"),
    ({"keystorePath": "k.jks", "keyAlias": "second"}, {"PROMPTFOO_JKS_PASSWORD": PASSWORD}, "second-cert.pem"),
    ({"type": "jks", "keystoreContent": base64.b64encode(STORE).decode(), "keystorePassword": "{{env.JKS_PW}}"},
     {"JKS_PW": PASSWORD}, "client-cert.pem"),
    ({"certificateFilename": "k.jks", "certificateContent": base64.b64encode(STORE).decode(),
      "certificatePassword": PASSWORD, "keyAlias": "second"}, {}, "second-cert.pem"),
])
def test_signature_auth_signs_with_the_keystore_key(sig: dict[str, Any], env: dict[str, str], cert: str) -> None:
    t = target(sig, files={"k.jks": STORE}, env=env)
    _verify_with_cert(cert_of(cert), call(t))


@pytest.mark.parametrize(("sig", "message"), [
    ({"type": "jks", "keystorePath": "k.jks"}, "Failed to generate signature: JKS keystore password is required"),
    ({"type": "jks", "keystorePath": "k.jks", "keystorePassword": "bad"},
     "Failed to generate signature: wrong keystore password"),
    ({"type": "jks", "keystorePath": "k.jks", "keystorePassword": PASSWORD, "keyAlias": "x"},
     "Failed to generate signature: Alias 'x' not found in JKS file"),
    ({"type": "jks", "keystorePassword": PASSWORD}, "JKS type requires keystorePath"),
])
def test_signature_auth_jks_errors_at_build_time(sig: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        target(sig, files={"k.jks": STORE})
    assert message in str(info.value) and info.value.path == "config.signatureAuth"


# -- keyPassword: the key's own password (promptfoo's JKS signature example) -------------------

KEYPASS_STORE = (FIXTURES / "keypass.jks").read_bytes()


def test_key_password_opens_a_key_whose_password_differs() -> None:
    entry = jks.private_key(KEYPASS_STORE, PASSWORD, key_password="keysecret")
    assert entry.alias == "signer" and matches(entry.key_pem, cert_of("keypass-cert.pem"))
    with pytest.raises(ConfigError, match="give the key's own password in keyPassword"):
        jks.private_key(KEYPASS_STORE, PASSWORD)
    with pytest.raises(ConfigError, match=r"wrong key password \(keyPassword\)"):
        jks.private_key(KEYPASS_STORE, PASSWORD, key_password="nope-nope")


def test_signature_auth_key_password() -> None:
    sig = {"type": "jks", "keystorePath": "k.jks", "keystorePassword": PASSWORD,
           "keyAlias": "signer", "keyPassword": "{{env.KEY_PW}}"}
    t = target(sig, files={"k.jks": KEYPASS_STORE}, env={"KEY_PW": "keysecret"})
    _verify_with_cert(cert_of("keypass-cert.pem"), call(t))


# -- tls ---------------------------------------------------------------------------------------


def tls(block: dict[str, Any], files: dict[str, bytes] | None = None, env: dict[str, str] | None = None) -> Any:
    entry = parse_provider_entry({"id": "https://x.test/", "config": {"tls": block}})
    return tls_params(entry.http, Sources(files=files or {}, env=env or {}))


def test_tls_jks_gives_pem_key_and_chain() -> None:
    p = tls({"jksPath": "k.jks", "passphrase": PASSWORD, "keyAlias": "second"}, {"k.jks": STORE})
    assert p.key_password is None and matches(p.key, cert_of("second-cert.pem"))
    assert x509.load_pem_x509_certificates(p.cert_chain) == [cert_of("second-cert.pem")]
    p = tls({"jksContent": base64.b64encode(STORE).decode()}, env={"PROMPTFOO_JKS_PASSWORD": PASSWORD})
    assert matches(p.key, cert_of("client-cert.pem"))


@pytest.mark.parametrize(("block", "env", "message"), [
    ({"jksPath": "k.jks"}, {}, "Failed to load JKS certificate: JKS keystore password is required"),
    ({"jksPath": "k.jks", "passphrase": "nope"}, {}, "Failed to load JKS certificate: wrong keystore password"),
    ({"jksContent": "%%%", "passphrase": PASSWORD}, {}, "jksContent is not valid base64"),
    ({"jksPath": "k.jks", "passphrase": PASSWORD, "keyAlias": "peer"}, {}, "no private key entry named 'peer'"),
    ({"jksPath": "k.jks", "pfxPath": "k.pfx", "passphrase": PASSWORD}, {}, "give one client identity: pfx or jks"),
])
def test_tls_jks_errors(block: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        tls(block, {"k.jks": STORE, "k.pfx": b""}, env)
    assert message in str(info.value)
    assert info.value.path.startswith("tls")


@pytest.mark.parametrize(("method", "versions"), [
    ("TLSv1_2_method", ("TLSv1.2", "TLSv1.2")),
    ("TLSv1_3_method", ("TLSv1.3", "TLSv1.3")),
    ("TLS_client_method", (None, None)),
])
def test_secure_protocol_maps_to_versions(method: str, versions: tuple[str | None, str | None]) -> None:
    p = tls({"secureProtocol": method})
    assert (p.min_version, p.max_version) == versions


@pytest.mark.parametrize(("block", "message"), [
    ({"secureProtocol": "SSLv3_method"}, "unknown or unsupported tls.secureProtocol 'SSLv3_method'"),
    ({"secureProtocol": "TLSv1_2_method", "minVersion": "TLSv1.2"}, "cannot be combined"),
])
def test_secure_protocol_errors(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tls(block)


@pytest.mark.parametrize("option", ["passphrase", "keystorePassword"])
def test_password_may_come_from_env_template(option: str) -> None:
    p = tls({"jksPath": "k.jks", option: "{{env.JKS_PW}}"}, {"k.jks": STORE}, {"JKS_PW": PASSWORD})
    assert matches(p.key, cert_of("client-cert.pem"))


# -- hand-built keystores: every malformed part gets its own error ---------------------------

OID_JKS_PROTECTOR = bytes.fromhex("2b060104012a02110101")
CLIENT_CERT_DER = cert_of("client-cert.pem").public_bytes(serialization.Encoding.DER)


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + content


def _protect(plain: bytes, password: str = PASSWORD, salt: bytes = b"s" * 20) -> bytes:
    """Sun's JKS key protector, as keytool writes it: salt, XOR stream, SHA-1 check."""
    pw = password.encode("utf-16-be")
    stream, digest = bytearray(), salt
    while len(stream) < len(plain):
        digest = hashlib.sha1(pw + digest).digest()
        stream += digest
    body = bytes(a ^ b for a, b in zip(plain, stream, strict=False))
    return salt + body + hashlib.sha1(pw + plain).digest()


def _epki(blob: bytes, oid: bytes = OID_JKS_PROTECTOR) -> bytes:
    return _der(0x30, _der(0x30, _der(0x06, oid) + _der(0x05, b"")) + _der(0x04, blob))


def _name(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(raw)) + raw


def _key_entry(alias: str, epki: bytes, certs: list[tuple[str, bytes]]) -> bytes:
    out = struct.pack(">I", 1) + _name(alias) + b"\0" * 8 + struct.pack(">I", len(epki)) + epki
    out += struct.pack(">I", len(certs))
    for kind, der in certs:
        out += _name(kind) + struct.pack(">I", len(der)) + der
    return out


def _store(*entries: bytes, count: int | None = None) -> bytes:
    body = struct.pack(">III", 0xFEEDFEED, 2, len(entries) if count is None else count) + b"".join(entries)
    return _restamp(body, PASSWORD)


def _first_key_der() -> bytes:
    key_pem = jks.private_key(STORE, PASSWORD).key_pem
    return serialization.load_pem_private_key(key_pem, None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_a_hand_built_keystore_opens_like_a_keytool_one() -> None:
    data = _store(_key_entry("mine", _epki(_protect(_first_key_der())), [("X.509", CLIENT_CERT_DER)]))
    entry = jks.private_key(data, PASSWORD, "MINE")
    assert entry.alias == "mine" and matches(entry.key_pem, cert_of("client-cert.pem"))


@pytest.mark.parametrize(("data", "message"), [
    (_store(), "No certificates found in JKS file"),
    (_store(struct.pack(">I", 3) + _name("secret") + b"\0" * 8),
     "an entry of unknown type 3 (alias 'secret'); secret key entries exist only in JCEKS/PKCS12"),
    (_store(struct.pack(">I", 1) + _name("x" * 1025)), "has a alias of 1025 bytes (limit 1024)"),
    (_store(struct.pack(">I", 1) + _name("k") + b"\0" * 8 + struct.pack(">I", 2) + b"ab" + struct.pack(">I", 33)),
     "JKS alias 'k' has a chain of 33 certificates (limit 32)"),
    (_store(_key_entry("k", _epki(_protect(_first_key_der())), [("X.500", b"cert")])),
     "JKS alias 'k' has a 'X.500' certificate; only X.509 is supported"),
    (_store(_key_entry("k", _epki(_protect(_first_key_der())), [("X.509", b"not der")])),
     "a certificate of JKS alias 'k' cannot be read"),
    (_store(_key_entry("k", _epki(_protect(b"\x30\x03\x02\x01\x00")), [])),
     "the key of JKS alias 'k' cannot be read"),
    (_store(_key_entry("k", _der(0x04, b"x"), [])), "the key of JKS alias 'k' is not an EncryptedPrivateKeyInfo"),
    (_store(_key_entry("k", _der(0x30, _der(0x04, b"x")), [])),
     "the key of JKS alias 'k' is not an EncryptedPrivateKeyInfo"),
    (_store(_key_entry("k", _der(0x30, _der(0x30, _der(0x06, OID_JKS_PROTECTOR)) + _der(0x02, b"\x01")), [])),
     "the key of JKS alias 'k' is not an EncryptedPrivateKeyInfo"),
    (_store(_key_entry("k", _epki(b"short"), [])), "the protected key of JKS alias 'k' is too short"),
    (_store(_key_entry("k", _epki(_protect(b"k"), bytes.fromhex("2a864886f70d01050d")), [])),
     "protected with algorithm 1.2.840.113549.1.5.13; only Sun's JKS key protector"),
    (_store(_key_entry("k", _epki(_protect(b"k"), b""), [])), "protected with algorithm (empty)"),
    (_store(_key_entry("k", b"\x30", [])), "a JKS key is not valid DER (truncated)"),
    (_store(_key_entry("k", b"\x30\x85\0\0\0\0\0", [])), "a JKS key is not valid DER (bad length)"),
    (_store(_key_entry("k", b"\x30\x80\0", [])), "a JKS key is not valid DER (bad length)"),
    (_store(_key_entry("k", b"\x30\x05\0", [])), "a JKS key is not valid DER (truncated)"),
])
def test_malformed_keystores(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        jks.private_key(data, PASSWORD, where="tls.jksPath")
    assert message in info.value.message
    assert info.value.path == "tls.jksPath"


def test_version_1_keystores_have_no_certificate_type_names() -> None:
    epki = _epki(_protect(_first_key_der()))
    entry = (struct.pack(">I", 1) + _name("v1") + b"\0" * 8 + struct.pack(">I", len(epki)) + epki
             + struct.pack(">I", 1) + struct.pack(">I", len(CLIENT_CERT_DER)) + CLIENT_CERT_DER)
    data = _restamp(struct.pack(">III", 0xFEEDFEED, 1, 1) + entry, PASSWORD)
    got = jks.private_key(data, PASSWORD)
    assert got.alias == "v1" and x509.load_pem_x509_certificates(got.chain_pem) == [cert_of("client-cert.pem")]
