"""Actions the core asks a binding to carry out: plain values, compared by replay and pooling."""

from __future__ import annotations

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.config.tls import tls_params
from sansio_core.errors import TransformError
from sansio_core.response import ProviderResponse
from sansio_core.sources import Sources


def test_pool_key_separates_connections_with_different_tls_settings() -> None:
    base = A.TlsParams(server_name="api.test")
    assert base.pool_key() == A.TlsParams(server_name="api.test").pool_key()
    for other in (A.TlsParams("other.test"), A.TlsParams("api.test", verify=False), A.TlsParams("api.test", ca=b"CA"),
                  A.TlsParams("api.test", cert_chain=b"C", key=b"K"), A.TlsParams("api.test", ciphers="HIGH"),
                  A.TlsParams("api.test", min_version="TLSv1.3"), A.TlsParams("api.test", alpn=("http/1.1",))):
        assert other.pool_key() != base.pool_key()


def test_a_config_tls_block_reaches_the_pool_key() -> None:
    entry = parse_provider_entry({"id": "https://a.test/", "config": {"tls": {"rejectUnauthorized": False,
                                                                             "servername": "sni.test"}}})
    params = tls_params(entry.http, Sources())
    assert params is not None
    assert params.pool_key()[:2] == ("sni.test", False)


def test_actions_are_values_and_terminal_actions_are_complete_or_fail() -> None:
    assert A.Read(1, 100, 5.0) == A.Read(1, 100, 5.0) and A.Read(1, 100, 5.0) != A.Read(1, 100, None)
    assert A.Open(1, "https", "h", 443, None, None).reuse_ok
    done = A.Complete(ProviderResponse(output="x"))
    failed = A.Fail(TransformError("boom"))
    assert isinstance(done, A.TERMINAL) and isinstance(failed, A.TERMINAL)
    assert not any(isinstance(a, A.TERMINAL) for a in (A.Sleep(1.0), A.Emit("d"), A.Close(1), A.Release(1, True)))
