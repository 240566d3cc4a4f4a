"""wss:// targets get default certificate verification in every binding."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import TransportError

from .certs import make_pki


@pytest.fixture(scope="module")
def wss_mock() -> Iterator[MockServer]:
    with MockServer(tls=make_pki().server_context()) as server:
        yield server


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_an_untrusted_certificate_is_refused(wss_mock: MockServer, binding: str) -> None:
    config = {"id": f"{wss_mock.ws_url}/ws/echo-json",
              "config": {"messageTemplate": "{{prompt}}", "timeoutMs": 5000}}
    assert config["id"].startswith("wss://")
    err: Any
    if binding == "sync":
        with pytest.raises(TransportError) as info:
            Target.from_config(config).call("hi")
        err = info.value
    else:
        async def main() -> Any:
            try:
                await AsyncTarget.from_config(config).call("hi")
            except TransportError as exc:
                return exc
            return None

        err = trio.run(main) if binding == "trio" else asyncio.run(main())
    assert isinstance(err, TransportError) and err.kind.value == "tls"
    assert "certificate" in str(err).lower()
    assert wss_mock.snapshot() == []  # nothing reached the application
