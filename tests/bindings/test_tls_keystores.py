"""Client identities from PKCS#12 bundles and JKS keystores, over real mutual TLS on loopback.

The mock server requires a client certificate and trusts exactly the one a
test expects, so a call succeeds only if promptwire presented that identity.
Certificates are generated here with ``cryptography``; the JKS keystores are
the keytool-made fixtures in ``tests/fixtures/jks`` (their self-signed client
certificates, exported as PEM beside them, are what the server trusts).
Every case runs through the public API in sync, asyncio and trio.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import ConfigError, PromptwireError, TransportError

from .certs import Pki, make_pki

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "jks"
BINDINGS = ["sync", "asyncio", "trio"]


@dataclass
class Client:
    ca_pem: bytes
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_client() -> Client:
    """A client CA and a client certificate it signed (clientAuth usage)."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("client CA")).issuer_name(_name("client CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("pfx client")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Client(ca.public_bytes(serialization.Encoding.PEM), key, cert)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def client() -> Client:
    return make_client()


def mtls_server(pki: Pki, trusted: bytes) -> MockServer:
    ctx = pki.server_context()
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=trusted.decode("ascii"))
    return MockServer(tls=ctx)


@pytest.fixture(scope="module")
def pfx_server(pki: Pki, client: Client) -> Iterator[MockServer]:
    with mtls_server(pki, client.ca_pem) as server:
        yield server


@pytest.fixture(scope="module")
def jks_server(pki: Pki) -> Iterator[MockServer]:
    with mtls_server(pki, (FIXTURES / "client-cert.pem").read_bytes()) as server:
        yield server


@pytest.fixture(scope="module")
def jks_second_server(pki: Pki) -> Iterator[MockServer]:
    with mtls_server(pki, (FIXTURES / "second-cert.pem").read_bytes()) as server:
        yield server


def call_once(binding: str, server: MockServer, tls: dict[str, Any], base_dir: Path,
              env: dict[str, str] | None = None) -> Any:
    """One GET /echo through the public API of ``binding``; the response or the error
    (no retries: a refused handshake must fail at once)."""
    entry = {"id": f"{server.base_url}/echo", "config": {"method": "GET", "tls": tls, "maxRetries": 0}}
    if binding == "sync":
        try:
            with Target.from_config(entry, base_dir=base_dir, env=env or {}) as target:
                return target.call("hi")
        except Exception as exc:
            return exc

    async def main() -> Any:
        try:
            target = AsyncTarget.from_config(entry, base_dir=base_dir, env=env or {})
            try:
                return await target.call("hi")
            finally:
                await target.aclose()
        except Exception as exc:
            return exc

    return trio.run(main) if binding == "trio" else asyncio.run(main())


def assert_ok(result: Any) -> None:
    assert not isinstance(result, BaseException), repr(result)
    assert result["metadata"]["http"]["status"] == 200
    assert json.loads(result["raw"])["path"] == "/echo"


def assert_refused(result: Any) -> None:
    """With TLS 1.3 the server checks the client certificate after the client's
    handshake is done, so the refusal shows as a connection closed unanswered."""
    assert isinstance(result, PromptwireError), repr(result)
    assert isinstance(result, TransportError) or "closed" in str(result)


@pytest.fixture()
def keystores(tmp_path: Path) -> Path:
    for name in ("client.jks",):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def _bundle(client: Client, password: bytes | None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(b"client", client.key, client.cert, None, encryption)


@pytest.mark.parametrize("binding", BINDINGS)
def test_pfx_path_with_passphrase(binding: str, pfx_server: MockServer, pki: Pki, client: Client,
                                  tmp_path: Path) -> None:
    (tmp_path / "client.pfx").write_bytes(_bundle(client, b"pfx-pass"))
    tls = {"pfxPath": "client.pfx", "passphrase": "{{env.PFX_PASSPHRASE}}", "ca": pki.ca_pem.decode()}
    assert_ok(call_once(binding, pfx_server, tls, tmp_path, {"PFX_PASSPHRASE": "pfx-pass"}))


@pytest.mark.parametrize("binding", BINDINGS)
def test_inline_base64_pfx_without_passphrase(binding: str, pfx_server: MockServer, pki: Pki, client: Client,
                                              tmp_path: Path) -> None:
    tls = {"pfx": base64.b64encode(_bundle(client, None)).decode(), "ca": pki.ca_pem.decode()}
    assert_ok(call_once(binding, pfx_server, tls, tmp_path))


@pytest.mark.parametrize("binding", BINDINGS)
def test_jks_path_first_key_entry(binding: str, jks_server: MockServer, pki: Pki, keystores: Path) -> None:
    tls = {"jksPath": "client.jks", "passphrase": "changeit", "ca": pki.ca_pem.decode()}
    assert_ok(call_once(binding, jks_server, tls, keystores))


@pytest.mark.parametrize("binding", BINDINGS)
def test_jks_content_with_alias_and_env_password(binding: str, jks_second_server: MockServer, pki: Pki,
                                                 tmp_path: Path) -> None:
    tls = {"jksContent": base64.b64encode((FIXTURES / "client.jks").read_bytes()).decode(),
           "keyAlias": "second", "ca": pki.ca_pem.decode()}
    assert_ok(call_once(binding, jks_second_server, tls, tmp_path, {"PROMPTFOO_JKS_PASSWORD": "changeit"}))


def test_the_server_refuses_the_wrong_identity(jks_second_server: MockServer, pki: Pki, keystores: Path) -> None:
    # The first key entry ("client") is not the one this server trusts.
    tls = {"jksPath": "client.jks", "passphrase": "changeit", "ca": pki.ca_pem.decode()}
    assert_refused(call_once("sync", jks_second_server, tls, keystores))


def test_no_identity_is_refused(pfx_server: MockServer, pki: Pki, tmp_path: Path) -> None:
    assert_refused(call_once("sync", pfx_server, {"ca": pki.ca_pem.decode()}, tmp_path))


def test_wrong_pfx_passphrase_is_a_build_error(pfx_server: MockServer, client: Client, tmp_path: Path) -> None:
    (tmp_path / "client.pfx").write_bytes(_bundle(client, b"right"))
    with pytest.raises(ConfigError, match=r"tls.pfxPath: cannot open the PFX/PKCS#12 bundle: wrong passphrase"):
        Target.from_config({"id": f"{pfx_server.base_url}/echo",
                            "config": {"tls": {"pfxPath": "client.pfx", "passphrase": "not-the-one"}}}, base_dir=tmp_path)


def test_missing_keystore_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tls\.jksPath.*nothere\.jks"):
        Target.from_config({"id": "https://127.0.0.1:1/", "config": {"tls": {"jksPath": "nothere.jks"}}},
                           base_dir=tmp_path)
