"""Many calls starting at once on one target fetch one OAuth token, in every binding."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target


def config(mock: Any, client: str) -> dict[str, Any]:
    return {"id": f"{mock.base_url}/echo", "config": {
        "method": "POST", "body": {"q": "{{prompt}}"},
        "auth": {"type": "oauth", "grantType": "client_credentials",
                 "tokenUrl": f"{mock.base_url}/oauth/token", "clientId": client, "clientSecret": "s"}}}


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_one_token_request_for_twenty_concurrent_calls(mock: Any, binding: str) -> None:
    client = f"concurrency-{binding}"
    outputs: list[Any] = []
    if binding == "sync":
        target = Target.from_config(config(mock, client))
        threads = [threading.Thread(target=lambda i=i: outputs.append(target.call(f"p{i}").output))
                   for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    else:
        async def main() -> None:
            target = AsyncTarget.from_config(config(mock, client))

            async def one(i: int) -> None:
                outputs.append((await target.call(f"p{i}")).output)
            if binding == "trio":
                async with trio.open_nursery() as nursery:
                    for i in range(20):
                        nursery.start_soon(one, i)
            else:
                await asyncio.gather(*(one(i) for i in range(20)))
        trio.run(main) if binding == "trio" else asyncio.run(main())
    assert len(outputs) == 20
    tokens = [r for r in mock.snapshot() if r.path == "/oauth/token" and f"client_id={client}".encode() in r.body]
    assert len(tokens) == 1
    auth = {dict((k.lower(), v) for k, v in o["headers"]).get("authorization") for o in outputs}
    assert len(auth) == 1 and auth.pop().startswith("Bearer mock-token-")
