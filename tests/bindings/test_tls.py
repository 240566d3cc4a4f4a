"""Real TLS on loopback with certificates generated in the test, in every binding."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from promptwire.mock import MockServer

from sansio_core import actions as A
from sansio_core.call import Call, CallContext, Flow
from sansio_core.config.timeouts import Timeouts
from sansio_core.errors import TransportError
from sansio_core.http.exchange import exchange
from sansio_core.http.prepared import PreparedRequest
from sansio_core.limits import Limits
from sansio_core.response import ProviderResponse

from .certs import Pki, make_pki


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def tls_mock(pki: Pki) -> Iterator[MockServer]:
    with MockServer(tls=pki.server_context()) as server:
        yield server


def https_call(port: int, tls: A.TlsParams) -> Any:
    def make(backend: Any) -> Call:
        req = PreparedRequest("GET", "https", "127.0.0.1", port, "/echo", (("host", f"127.0.0.1:{port}"),),
                              None, f"https://127.0.0.1:{port}/echo")

        def flow(ctx: CallContext) -> Flow:
            raw = yield from exchange(ctx, req, tls=tls, timeouts=Timeouts(total_ms=5000), limits=Limits())
            return ProviderResponse(status=raw.status, body=raw.body.decode())

        return Call(flow, CallContext(now=backend.now(), rng=random.Random(0)))

    return make


def test_verified_with_the_test_ca(runner: Any, tls_mock: MockServer, pki: Pki) -> None:
    (r,) = runner.run(lambda b: [https_call(tls_mock.port, A.TlsParams("127.0.0.1", ca=pki.ca_pem))(b)])
    assert r["status"] == 200 and json.loads(r["body"])["method"] == "GET"


def test_unknown_ca_is_refused_by_default(runner: Any, tls_mock: MockServer) -> None:
    (err,) = runner.run(lambda b: [https_call(tls_mock.port, A.TlsParams("127.0.0.1"))(b)])
    assert isinstance(err, TransportError) and err.kind.value == "tls"
    assert "certificate" in str(err).lower()


def test_reject_unauthorized_false_accepts_it(runner: Any, tls_mock: MockServer) -> None:
    (r,) = runner.run(lambda b: [https_call(tls_mock.port, A.TlsParams("127.0.0.1", verify=False))(b)])
    assert r["status"] == 200


def test_hostname_mismatch_is_refused(runner: Any, tls_mock: MockServer, pki: Pki) -> None:
    (err,) = runner.run(lambda b: [https_call(tls_mock.port, A.TlsParams("wrong.example", ca=pki.ca_pem))(b)])
    assert isinstance(err, TransportError) and err.kind.value == "tls"
