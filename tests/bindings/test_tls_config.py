"""TLS options as a user writes them (issue 9, items 11 and 13), against real TLS
servers on loopback with certificates made in the test, in every binding.

* bad key material fails when the target is built, naming the option;
* a verification failure says how to fix it; a TLS handshake to a plain-HTTP
  port says so;
* ``tls.ciphers`` takes TLS 1.3 suite names (Node's form, the docs' advanced
  example), keeps TLS 1.2 names working, and the negotiated TLS 1.3 suite is
  checked against it; ``secureProtocol: TLSv1_3_method`` means TLS 1.3.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from promptwire import ConfigError, MockServer, PromptwireError, TransportError

from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.tls import tls_params
from sansio_core.sources import Sources

from .apicall import call_api
from .certs import Pki, make_pki

BINDINGS = ["sync", "asyncio", "trio"]
DOCS_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def _server(pki: Pki, *, max_version: ssl.TLSVersion | None = None, ciphers: str | None = None) -> MockServer:
    ctx = pki.server_context()
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return MockServer(tls=ctx)


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[MockServer]:
    with _server(pki) as server:
        yield server


@pytest.fixture(scope="module")
def tls12_server(pki: Pki) -> Iterator[MockServer]:
    with _server(pki, max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384") as server:
        yield server


def entry(server: MockServer, tls: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{server.base_url}/echo", "config": {"method": "GET", "tls": tls, "maxRetries": 0}}


def ok(result: Any) -> None:
    assert not isinstance(result, Exception), result
    assert result.metadata["http"]["status"] == 200


# -- item 11: key material is checked when the target is built -----------------------------


def _encrypted_key(pki: Pki, password: bytes) -> bytes:
    key = serialization.load_pem_private_key(pki.key_pem, None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password))


def test_encrypted_key_with_its_passphrase_works(tls_server: MockServer, pki: Pki, tmp_path: Path) -> None:
    # The server does not ask for a client certificate; the identity is still loaded and used.
    (tmp_path / "key.pem").write_bytes(_encrypted_key(pki, b"right-pass"))
    (tmp_path / "cert.pem").write_bytes(pki.cert_pem)
    tls = {"ca": pki.ca_pem.decode(), "certPath": "cert.pem", "keyPath": "key.pem", "passphrase": "right-pass"}
    ok(call_api("sync", entry(tls_server, tls), base_dir=tmp_path))


@pytest.mark.parametrize("binding", BINDINGS)
def test_wrong_key_passphrase_is_a_build_error(binding: str, tls_server: MockServer, pki: Pki,
                                                tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(_encrypted_key(pki, b"right-pass"))
    (tmp_path / "cert.pem").write_bytes(pki.cert_pem)
    tls = {"ca": pki.ca_pem.decode(), "certPath": "cert.pem", "keyPath": "key.pem", "passphrase": "other-pass"}
    err = call_api(binding, entry(tls_server, tls), base_dir=tmp_path)
    assert isinstance(err, ConfigError), err
    assert err.path == "tls.keyPath" and "tls.passphrase is wrong" in str(err)


@pytest.mark.parametrize(("tls", "path", "text"), [
    ({"cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "key": "KEY"},
     "tls.cert", "not a PEM client certificate"),
    ({"cert": "CERT", "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
     "tls.key", "not a PEM private key"),
    ({"cert": "CERT", "key": "ENCRYPTED"}, "tls.key", "the private key is encrypted: give its password"),
    ({"ca": "garbage"}, "tls.ca", "not a PEM CA certificate"),
    ({"cert": "CERT", "key": "OTHER"}, "tls.key", "does not belong to the certificate"),
])
def test_malformed_pem_names_the_option(pki: Pki, tls: dict[str, Any], path: str, text: str) -> None:
    other = make_pki()
    values = {"CERT": pki.cert_pem.decode(), "KEY": pki.key_pem.decode(), "OTHER": other.key_pem.decode(),
              "ENCRYPTED": _encrypted_key(pki, b"pw-pw-pw").decode()}
    tls = {k: values.get(v, v) for k, v in tls.items()}
    with pytest.raises(ConfigError) as info:
        tls_params(parse_provider_entry({"id": "https://x.test/", "config": {"tls": tls}}).http, Sources())
    assert info.value.path == path and text in str(info.value)


@pytest.mark.parametrize("binding", BINDINGS)
def test_verification_failure_says_how_to_fix_it(binding: str, tls_server: MockServer) -> None:
    err = call_api(binding, entry(tls_server, {"rejectUnauthorized": True}))
    assert isinstance(err, TransportError) and err.kind.value == "tls", err
    assert "certificate verification failed" in str(err)
    assert "tls.ca" in str(err) and "tls.caPath" in str(err) and "rejectUnauthorized: false" in str(err)


@pytest.mark.parametrize("binding", BINDINGS)
def test_tls_to_a_plain_http_port_says_so(binding: str, mock: MockServer) -> None:
    https = {"id": f"https://127.0.0.1:{mock.port}/echo", "config": {"method": "GET", "maxRetries": 0}}
    err = call_api(binding, https)
    assert isinstance(err, TransportError) and err.kind.value == "tls", err
    assert "plain-HTTP port" in str(err) and "http://" in str(err)


# -- item 13: ciphers and protocol versions ------------------------------------------------


@pytest.mark.parametrize("binding", BINDINGS)
def test_docs_tls13_cipher_example_connects(binding: str, tls_server: MockServer, pki: Pki) -> None:
    tls = {"ca": pki.ca_pem.decode(), "ciphers": DOCS_CIPHERS, "secureProtocol": "TLSv1_3_method"}
    ok(call_api(binding, entry(tls_server, tls)))


@pytest.mark.parametrize("binding", BINDINGS)
def test_negotiated_tls13_suite_outside_the_list_is_refused(binding: str, pki: Pki) -> None:
    # The server prefers its own order (TLS_AES_256_GCM_SHA384 first); the client allows only ChaCha20.
    with _server(pki) as server:
        err = call_api(binding, entry(server, {"ca": pki.ca_pem.decode(), "ciphers": "TLS_CHACHA20_POLY1305_SHA256"}))
    assert isinstance(err, TransportError) and err.kind.value == "tls", err
    assert "TLS_AES_256_GCM_SHA384" in str(err) and "tls.ciphers does not allow" in str(err)


@pytest.mark.parametrize("binding", BINDINGS)
def test_tls12_cipher_names_keep_working(binding: str, tls12_server: MockServer, pki: Pki) -> None:
    ok(call_api(binding, entry(tls12_server, {"ca": pki.ca_pem.decode(), "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384"})))
    err = call_api(binding, entry(tls12_server, {"ca": pki.ca_pem.decode(),
                                                 "ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305"}))
    assert isinstance(err, PromptwireError), err  # no common suite (asyncio may see the reset first)


@pytest.mark.parametrize("binding", BINDINGS)
def test_secure_protocol_tls13_means_tls13(binding: str, tls12_server: MockServer, tls_server: MockServer,
                                            pki: Pki) -> None:
    tls = {"ca": pki.ca_pem.decode(), "secureProtocol": "TLSv1_3_method"}
    ok(call_api(binding, entry(tls_server, tls)))
    err = call_api(binding, entry(tls12_server, tls))  # a TLS 1.2-only server cannot satisfy it
    assert isinstance(err, PromptwireError), err


def params(tls: dict[str, Any]) -> Any:
    return tls_params(parse_provider_entry({"id": "https://x.test/", "config": {"tls": tls}}).http, Sources())


def test_cipher_lists_split_as_node_does() -> None:
    p = params({"ciphers": DOCS_CIPHERS})
    assert p.ciphers is None and p.tls13_ciphers == tuple(DOCS_CIPHERS.split(":"))
    assert (p.min_version, p.max_version) == ("TLSv1.3", None)  # only TLS 1.3 suites: TLS 1.3 only
    p = params({"ciphers": "ECDHE-RSA-AES128-GCM-SHA256"})
    assert p.ciphers == "ECDHE-RSA-AES128-GCM-SHA256" and p.tls13_ciphers is None
    assert (p.min_version, p.max_version) == (None, "TLSv1.2")  # no TLS 1.3 suite: TLS 1.2 at most
    p = params({"ciphers": "TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256"})
    assert p.ciphers == "ECDHE-RSA-AES128-GCM-SHA256" and p.tls13_ciphers == ("TLS_AES_128_GCM_SHA256",)
    assert (p.min_version, p.max_version) == (None, None)


def test_bad_cipher_names_are_build_errors(tls_server: MockServer) -> None:
    with pytest.raises(ConfigError, match=r"tls\.ciphers: unknown TLS 1\.3 cipher suite 'TLS_NOPE'"):
        params({"ciphers": "TLS_NOPE"})
    err = call_api("sync", entry(tls_server, {"ciphers": "NOT-A-CIPHER"}))
    assert isinstance(err, ConfigError) and err.path == "tls.ciphers", err
