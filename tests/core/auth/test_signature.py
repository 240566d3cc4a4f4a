"""signatureAuth (spec 15): the headers a server sees, verified with the public key.

Each test builds a real HTTP target, runs a call against an in-memory h11
server at a chosen wall-clock time, and checks the ``x-signature`` /
``x-timestamp`` headers by verifying the signature with ``cryptography``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

T0 = 1_700_000_000.0  # wall clock of the first call (seconds)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def target(sig: Mapping[str, Any], *, files: Mapping[str, bytes] | None = None,
           env: Mapping[str, str] | None = None, body: Any = None) -> HttpTarget:
    entry = parse_provider_entry({"id": "http://api.test/sign", "config": {
        "method": "POST",
        "headers": {"X-Signature": "{{signature}}", "X-Timestamp": "{{signatureTimestamp}}"},
        "body": body if body is not None else {"q": "{{prompt}}"},
        "signatureAuth": dict(sig),
    }})
    return HttpTarget.compile(entry, Sources(files=dict(files or {}), env=dict(env or {}), base_dir="/cfg"))


def call(t: HttpTarget, at: float = T0, vars: Mapping[str, Any] | None = None) -> SeenRequest:
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(200, [("content-type", "application/json")], b'{"ok":true}')

    end, _ = run_against(t.new_call("hi", vars or {}, None, now=Instant(1.0, at), seed=1), handler)
    if isinstance(end, A.Fail):
        raise end.error
    return seen[0]


def header(req: SeenRequest, name: str) -> str:
    return next(v for k, v in req.headers if k == name)


def verify_rsa(key: rsa.RSAPrivateKey, signature: str, data: bytes, digest: Any = None) -> None:
    key.public_key().verify(base64.b64decode(signature), data, padding.PKCS1v15(), digest or hashes.SHA256())


def test_default_template_signs_the_timestamp_in_epoch_ms() -> None:
    req = call(target({"type": "pem", "privateKey": pem(RSA_KEY)}))
    ts = header(req, "x-timestamp")
    assert ts == str(int(T0 * 1000))
    verify_rsa(RSA_KEY, header(req, "x-signature"), ts.encode())


def test_custom_template_sees_only_the_timestamp_and_backslash_n_is_a_newline() -> None:
    t = target({"privateKey": pem(RSA_KEY), "signatureDataTemplate": "{{clientId}}custom-{{signatureTimestamp}}\\n"})
    req = call(t, vars={"clientId": "cid"})
    ts = header(req, "x-timestamp")
    verify_rsa(RSA_KEY, header(req, "x-signature"), f"custom-{ts}\n".encode())


def test_private_key_path_is_read_from_sources_and_algorithm_is_honoured() -> None:
    t = target({"privateKeyPath": "keys/k.pem", "signatureAlgorithm": "RSA-SHA512"},
               files={"keys/k.pem": pem(RSA_KEY).encode()})
    req = call(t)
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode(), hashes.SHA512())


def test_signature_vars_reach_the_body() -> None:
    req = call(target({"privateKey": pem(RSA_KEY)}, body={"sig": "{{signature}}", "ts": "{{signatureTimestamp}}"}))
    assert header(req, "x-signature") in req.body.decode()
    assert str(int(T0 * 1000)) in req.body.decode()


def test_ec_keys_make_der_ecdsa_signatures() -> None:
    req = call(target({"privateKey": pem(EC_KEY)}))
    EC_KEY.public_key().verify(base64.b64decode(header(req, "x-signature")), header(req, "x-timestamp").encode(),
                               ec.ECDSA(hashes.SHA256()))


def test_signature_is_reused_until_validity_minus_ten_percent() -> None:
    t = target({"privateKey": pem(RSA_KEY)})
    first = call(t, T0)
    assert header(call(t, T0 + 269.999), "x-timestamp") == header(first, "x-timestamp")
    renewed = call(t, T0 + 270.0)
    assert header(renewed, "x-timestamp") == str(int((T0 + 270.0) * 1000))


def test_custom_refresh_buffer() -> None:
    t = target({"privateKey": pem(RSA_KEY), "signatureValidityMs": 10_000, "signatureRefreshBufferMs": 0})
    first = header(call(t, T0), "x-timestamp")
    assert header(call(t, T0 + 9.9), "x-timestamp") == first
    assert header(call(t, T0 + 10.0), "x-timestamp") != first


def test_templated_key_gets_a_signature_per_rendered_key() -> None:
    t = target({"privateKey": "{{key}}"})
    a = call(t, T0, {"key": pem(RSA_KEY)})
    b = call(t, T0 + 1, {"key": pem(OTHER_KEY)})
    verify_rsa(RSA_KEY, header(a, "x-signature"), header(a, "x-timestamp").encode())
    verify_rsa(OTHER_KEY, header(b, "x-signature"), header(b, "x-timestamp").encode())
    again = call(t, T0 + 2, {"key": pem(RSA_KEY)})
    assert header(again, "x-signature") == header(a, "x-signature")


def test_inline_key_with_literal_backslash_n() -> None:
    flat = pem(RSA_KEY).replace("\n", "\\n")
    req = call(target({"privateKey": flat}))
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_certificate_content_is_base64_of_the_pem() -> None:
    content = base64.b64encode(pem(RSA_KEY).encode()).decode()
    req = call(target({"certificateFilename": "client.pem", "certificateContent": content}))
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def _pfx(password: bytes) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sig")])
    import datetime

    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(RSA_KEY.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(RSA_KEY, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(b"sig", RSA_KEY, cert, None,
                                                 serialization.BestAvailableEncryption(password))


@pytest.mark.parametrize("how", ["path", "content", "env-password"])
def test_pfx_bundles(how: str) -> None:
    bundle = _pfx(b"pw")
    if how == "path":
        t = target({"type": "pfx", "pfxPath": "k.pfx", "pfxPassword": "pw"}, files={"k.pfx": bundle})
    elif how == "content":
        t = target({"type": "pfx", "pfxContent": base64.b64encode(bundle).decode(), "certificatePassword": "pw"})
    else:
        t = target({"type": "pfx", "pfxPath": "k.pfx"}, files={"k.pfx": bundle},
                   env={"PROMPTFOO_PFX_PASSWORD": "pw"})
    req = call(t)
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_pfx_password_from_env_template() -> None:
    t = target({"type": "pfx", "pfxPath": "k.pfx", "pfxPassword": "{{env.PFX_PW}}"},
               files={"k.pfx": _pfx(b"s3")}, env={"PFX_PW": "s3"})
    req = call(t)
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_pfx_cert_and_key_paths() -> None:
    t = target({"type": "pfx", "certPath": "c.pem", "keyPath": "k.pem"},
               files={"c.pem": b"cert", "k.pem": pem(RSA_KEY).encode()})
    req = call(t)
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


@pytest.mark.parametrize(("sig", "files", "message"), [
    ({"privateKey": "not a key"}, {}, 'it is not PEM-encoded (no "-----BEGIN ... PRIVATE KEY-----" header)'),
    ({"type": "pem", "privateKey": public_pem(RSA_KEY)}, {}, "it is a public key, not a private key"),
    ({"privateKeyPath": "k.pem"}, {"k.pem": b"  \n"}, "Private key from privateKeyPath /cfg/k.pem cannot be used: "
                                                       "it is empty"),
    ({"privateKey": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"}, {},
     "passphrase-protected"),
    ({"privateKey": "-----BEGIN PRIVATE KEY-----\nMIIE"}, {}, "it is truncated"),
    ({"type": "pfx", "pfxPath": "missing.pfx"}, {}, "PFX certificate password is required"),
    ({"type": "pfx", "pfxPath": "k.pfx", "pfxPassword": "wrong"}, {"k.pfx": _pfx(b"pw")}, "wrong password"),
    ({"type": "pfx"}, {}, "PFX type requires either pfxPath"),
    ({"type": "pem"}, {}, "PEM private key is required"),
    ({"certificateFilename": "x.bin", "certificateContent": "AAAA"}, {}, "Cannot determine certificate type"),
    ({"type": "jks", "keystorePath": "k.jks"}, {"k.jks": b""}, "Failed to generate signature: JKS keystore password "
                                                               "is required"),
    ({"type": "jks", "keystorePath": "k.jks", "keystorePassword": "pw"}, {"k.jks": b""},
     "Failed to generate signature: not a JKS keystore"),
    ({"privateKey": pem(RSA_KEY), "signatureAlgorithm": "whirlpool"}, {}, "unsupported signatureAlgorithm"),
])
def test_unusable_keys_fail_when_the_target_is_built(sig: dict[str, Any], files: dict[str, bytes],
                                                      message: str) -> None:
    with pytest.raises(ConfigError) as info:
        target(sig, files=files)
    assert message in str(info.value)
    assert "signatureAuth" in str(info.value)


def test_unusable_templated_key_fails_the_call_before_any_request() -> None:
    t = target({"privateKey": "{{key}}"})
    with pytest.raises(ConfigError, match="Failed to generate signature: Private key from the configured "
                                          "privateKey cannot be used: it is a certificate, not a private key"):
        call(t, vars={"key": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"})


def test_unknown_type_is_refused_at_load_time() -> None:
    with pytest.raises(ConfigError, match=r"signatureAuth\.type"):
        target({"type": "foo", "privateKey": "x"})


@pytest.mark.parametrize(("filename", "files"), [("client.pem", None), ("client.key", None)])
def test_certificate_filename_extension_picks_pem(filename: str, files: Any) -> None:
    content = base64.b64encode(pem(RSA_KEY).encode()).decode()
    req = call(target({"certificateFilename": filename, "certificateContent": content}))
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_certificate_filename_extension_picks_pfx() -> None:
    bundle = base64.b64encode(_pfx(b"pw")).decode()
    req = call(target({"certificateFilename": "client.P12", "pfxContent": bundle, "pfxPassword": "pw"}))
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_certificate_filename_extension_picks_jks() -> None:
    with pytest.raises(ConfigError, match="JKS keystore password is required"):
        target({"certificateFilename": "store.jks", "keystoreContent": "AAAA"})


@pytest.mark.parametrize(("sig", "kind_hint"), [
    ({"keystoreContent": "AAAA", "keystorePassword": "pw"}, "not a JKS keystore"),
    ({"pfxContent": "%%", "pfxPassword": "pw"}, "pfxContent is not valid base64"),
    ({"certContent": "AAAA", "keyContent": "%%%"}, "keyContent is not valid base64"),
])
def test_type_is_detected_from_the_fields_given(sig: dict[str, Any], kind_hint: str) -> None:
    with pytest.raises(ConfigError, match=kind_hint):
        target(sig)


def test_pfx_cert_and_key_content() -> None:
    t = target({"certContent": base64.b64encode(b"cert").decode(),
                "keyContent": base64.b64encode(pem(RSA_KEY).encode()).decode()})
    req = call(t)
    verify_rsa(RSA_KEY, header(req, "x-signature"), header(req, "x-timestamp").encode())


def test_no_key_material_at_all_defaults_to_pem_and_says_a_key_is_required() -> None:
    with pytest.raises(ConfigError, match="PEM private key is required"):
        target({"signatureValidityMs": 1000})


@pytest.mark.parametrize("algorithm", ["SHA512", "rsa-sha384", "sha256WithRSAEncryption", "ecdsa-with-SHA256",
                                       "sha3_256"])
def test_signature_algorithm_spellings(algorithm: str) -> None:
    req = call(target({"privateKey": pem(EC_KEY), "signatureAlgorithm": algorithm}))
    assert base64.b64decode(header(req, "x-signature"))[0] == 0x30  # DER ECDSA signature


def test_ed25519_keys_sign() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    req = call(target({"privateKey": pem(key)}))
    key.public_key().verify(base64.b64decode(header(req, "x-signature")), header(req, "x-timestamp").encode())


def test_dsa_keys_sign() -> None:
    key = dsa.generate_private_key(1024)
    req = call(target({"privateKey": pem(key)}))
    key.public_key().verify(base64.b64decode(header(req, "x-signature")), header(req, "x-timestamp").encode(),
                            hashes.SHA256())


def test_a_key_type_that_cannot_sign_is_refused() -> None:
    with pytest.raises(ConfigError, match="X25519PrivateKey keys cannot sign"):
        target({"privateKey": pem(x25519.X25519PrivateKey.generate())})


def test_garbage_inside_a_pem_frame_is_reported_as_unparseable() -> None:
    bad = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b"\x30\x03\x02\x01\x00" * 30).decode() + \
          "\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError, match="cannot be used: it could not be parsed"):
        target({"privateKey": bad})


def test_a_pfx_without_a_key_is_refused() -> None:
    import datetime

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(RSA_KEY.public_key())
            .serial_number(2).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(RSA_KEY, hashes.SHA256()))
    bundle = pkcs12.serialize_key_and_certificates(None, None, None, [cert], serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(ConfigError, match="the bundle holds no private key"):
        target({"type": "pfx", "pfxContent": base64.b64encode(bundle).decode(), "pfxPassword": "pw"})


def test_a_signature_data_template_that_does_not_compile_is_named() -> None:
    with pytest.raises(ConfigError, match=r"signatureAuth\.signatureDataTemplate"):
        target({"privateKey": pem(RSA_KEY), "signatureDataTemplate": "{{ oops"})


def test_file_paths_lists_the_files_the_loader_must_read() -> None:
    from sansio_core.auth.signature import file_paths

    assert file_paths({"privateKeyPath": "k.pem", "certPath": "c.pem", "keyPath": None, "other": "x"}) == [
        ("privateKeyPath", "k.pem"), ("certPath", "c.pem")]
    assert file_paths("not a mapping") == []
