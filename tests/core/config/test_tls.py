"""The ``tls`` block -> TlsParams: PEM bytes from inline text or loaded files, PKCS#12 opened here."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from sansio_core.actions import TlsParams
from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.tls import tls_for, tls_params
from sansio_core.errors import ConfigError
from sansio_core.http.prepared import PreparedRequest
from sansio_core.sources import Sources

FIXTURES = Path(__file__).parents[2] / "fixtures" / "jks"
P12 = (FIXTURES / "client.p12").read_bytes()  # the `second` entry, password "changeit"
SECOND = x509.load_pem_x509_certificate((FIXTURES / "second-cert.pem").read_bytes())


def params(block: dict[str, Any] | None, files: dict[str, bytes] | None = None,
           env: dict[str, str] | None = None) -> TlsParams | None:
    config: dict[str, Any] = {} if block is None else {"tls": block}
    entry = parse_provider_entry({"id": "https://x.test/", "config": config})
    return tls_params(entry.http, Sources(files=files or {}, env=env or {}))


def must(block: dict[str, Any], files: dict[str, bytes] | None = None,
         env: dict[str, str] | None = None) -> TlsParams:
    p = params(block, files, env)
    assert p is not None
    return p


def error(block: dict[str, Any], files: dict[str, bytes] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        params(block, files)
    return info.value


def self_signed() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls test")])
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, cert


def public(key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, None)
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_public(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_no_tls_block_means_default_verification() -> None:
    assert params(None) is None


def test_empty_block_verifies_and_sends_no_identity() -> None:
    p = must({})
    assert (p.verify, p.ca, p.cert_chain, p.key, p.key_password, p.server_name) == (True, None, None, None, None, "")


def pem_pair(password: bytes | None = None) -> tuple[bytes, bytes]:
    """A matching certificate and private key as PEM (the key encrypted with ``password``)."""
    key, cert = self_signed()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ca_pem() -> str:
    return self_signed()[1].public_bytes(serialization.Encoding.PEM).decode()


def test_inline_pem_text_and_lists_are_joined() -> None:
    cert, key = pem_pair()
    ca_a, ca_b = ca_pem(), ca_pem()
    p = must({"ca": [ca_a, ca_b], "cert": cert.decode(), "key": key.decode(), "rejectUnauthorized": False,
              "servername": "sni.test", "ciphers": "TLS_AES_128_GCM_SHA256:HIGH", "minVersion": "TLSv1.2",
              "maxVersion": "TLSv1.3"})
    assert p.ca == f"{ca_a}\n{ca_b}".encode()
    assert p.cert_chain == cert and public(p.key or b"") == public(key)
    # Node's split: TLS_* names are TLS 1.3 suites, the rest the TLS 1.2 list.
    assert (p.verify, p.server_name, p.ciphers, p.min_version, p.max_version) == (
        False, "sni.test", "HIGH", "TLSv1.2", "TLSv1.3")


def test_paths_are_read_from_the_loaded_files() -> None:
    cert, key = pem_pair(b"secret")
    ca = ca_pem().encode()
    p = must({"caPath": "ca.pem", "certPath": "c.pem", "keyPath": "k.pem", "passphrase": "secret"},
             {"ca.pem": ca, "c.pem": cert, "k.pem": key})
    assert (p.ca, p.cert_chain) == (ca, cert)
    assert p.key is not None


def test_passphrase_template_reads_the_environment() -> None:
    cert, key = pem_pair(b"from-env")
    p = must({"cert": cert.decode(), "key": key.decode(), "passphrase": "{{env.KEY_PW}}"},
             env={"KEY_PW": "from-env"})
    assert p.key is not None
    # A template that renders empty means no passphrase: an encrypted key then cannot be opened.
    plain_cert, plain_key = pem_pair()
    assert must({"cert": plain_cert.decode(), "key": plain_key.decode(),
                 "passphrase": "{{env.NOPE}}"}).key_password is None
    with pytest.raises(ConfigError, match="passphrase"):
        params({"cert": cert.decode(), "key": key.decode(), "passphrase": "{{env.NOPE}}"})


def test_a_file_the_binding_did_not_load_is_named() -> None:
    e = error({"caPath": "missing/ca.pem"})
    assert (e.path, e.message) == ("tls.caPath", "tls.caPath: the file 'missing/ca.pem' was not loaded")
    assert error({"pfxPath": "x.p12"}).path == "tls.pfxPath"


def test_pfx_path_gives_the_chain_and_an_unencrypted_key() -> None:
    p = must({"pfxPath": "c.p12", "passphrase": "changeit"}, {"c.p12": P12})
    assert x509.load_pem_x509_certificates(p.cert_chain) == [SECOND]
    assert b"ENCRYPTED" not in p.key and public(p.key) == cert_public(SECOND)
    assert p.key_password is None


@pytest.mark.parametrize(("passphrase", "suffix"), [("wrong", ""), (None, " (no tls.passphrase given)")])
def test_pfx_that_cannot_be_opened(passphrase: str | None, suffix: str) -> None:
    block: dict[str, Any] = {"pfxPath": "c.p12"}
    if passphrase:
        block["passphrase"] = passphrase
    e = error(block, {"c.p12": P12})
    assert e.message == ("tls.pfxPath: cannot open the PFX/PKCS#12 bundle: wrong passphrase or not a PKCS#12 "
                         "file" + suffix)
    assert "changeit" not in e.message


def test_inline_pfx_as_base64_or_bytes_without_a_password() -> None:
    key, cert = self_signed()
    bundle = pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.NoEncryption())
    for inline in (base64.b64encode(bundle).decode(), bundle):
        p = must({"pfx": inline})
        assert x509.load_pem_x509_certificates(p.cert_chain) == [cert]
        assert public(p.key) == cert_public(cert)


def test_inline_pfx_that_is_not_base64_is_tried_as_text_and_fails_with_its_option() -> None:
    e = error({"pfx": "not a bundle"})
    assert e.path == "tls.pfx" and "cannot open the PFX/PKCS#12 bundle" in e.message


def test_pfx_without_a_private_key_is_refused() -> None:
    _, cert = self_signed()
    bundle = pkcs12.serialize_key_and_certificates(None, None, None, [cert], serialization.NoEncryption())
    e = error({"pfx": base64.b64encode(bundle).decode()})
    assert e.message == "tls.pfx: the PFX/PKCS#12 bundle holds no private key and certificate"


def test_only_one_client_identity() -> None:
    e = error({"cert": "C", "key": "K", "pfxPath": "c.p12"}, {"c.p12": P12})
    assert (e.path, e.message) == ("tls", "tls: give one client identity: cert/key or pfx (not several)")


def req(scheme: str, host: str = "api.test") -> PreparedRequest:
    return PreparedRequest("GET", scheme, host, 443, "/", (("host", host),), None, f"{scheme}://{host}/")


def test_tls_for_sets_sni_from_the_request_host_unless_servername_is_configured() -> None:
    assert tls_for(None, req("http")) is None
    assert tls_for(must({}), req("http")) is None
    default = tls_for(None, req("https"))
    assert default is not None and (default.server_name, default.verify) == ("api.test", True)
    base = must({"rejectUnauthorized": False})
    mine = tls_for(base, req("https", "other.test"))
    assert mine is not None and (mine.server_name, mine.verify) == ("other.test", False)
    assert tls_for(base, req("https", "other.test")) is mine  # one object per host: the binding caches by it
    fixed = must({"servername": "sni.test"})
    assert tls_for(fixed, req("https")) is fixed


# -- PROMPTFOO_CA_CERT_PATH -----------------------------------------------------------


def test_promptfoo_ca_cert_path_is_trusted_without_a_tls_block() -> None:
    ca = ca_pem().encode()
    p = params(None, {"proxy-ca.pem": ca}, {"PROMPTFOO_CA_CERT_PATH": "proxy-ca.pem"})
    assert p is not None and p.ca == ca and p.verify and p.cert_chain is None


def test_promptfoo_ca_cert_path_that_is_not_a_certificate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PROMPTFOO_CA_CERT_PATH: not a PEM CA certificate"):
        params(None, {"x.pem": b"junk"}, {"PROMPTFOO_CA_CERT_PATH": "x.pem"})


def test_a_tls_block_wins_over_promptfoo_ca_cert_path() -> None:
    # promptfoo reads the variable only for targets without a tls block (spec 16.3).
    assert must({}, {"x.pem": b"junk"}, {"PROMPTFOO_CA_CERT_PATH": "x.pem"}).ca is None
