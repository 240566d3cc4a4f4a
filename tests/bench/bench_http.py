"""Keep-alive POSTs of a templated JSON body, answer extracted from the JSON.

    python tests/bench/bench_http.py [--requests N] [--concurrency 1,50] [--codecs auto,h11]
    python tests/bench/bench_http.py --concurrency 1,10,50,200,1000 --clients aiohttp,asyncio,trio

``--codecs`` runs each promptwire client once per HTTP/1.1 codec
(``PROMPTWIRE_HTTP_PARSER``); the scaling table is the second line.

promptwire (asyncio, trio, sync bindings) against aiohttp and httpx doing the
same work: render a JSON body with the prompt, POST it, parse the JSON answer
and take choices[0].message.content. The server is a pre-built-response
server on the other core. Reports requests/s and client CPU µs per request,
and both as ratios to aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
from typing import Any

from _harness import Result, measure, pin_client, prebuilt_server, report

PROMPT = "Summarise the plot of Hamlet in one sentence."


def promptwire_config(port: int) -> dict[str, object]:
    return {
        "id": f"http://127.0.0.1:{port}/v1/chat/completions",
        "config": {
            "method": "POST",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"},
            "body": {"model": "bench", "messages": [{"role": "user", "content": "{{prompt}}"}],
                     "temperature": 0},
            "transformResponse": "json.choices[0].message.content",
        },
    }


def body_for(prompt: str) -> bytes:
    return json.dumps({"model": "bench", "messages": [{"role": "user", "content": prompt}],
                       "temperature": 0}, separators=(",", ":")).encode()


HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}


def split(total: int, conc: int) -> list[int]:
    return [total // conc + (1 if i < total % conc else 0) for i in range(conc)]


def bench_aiohttp(port: int, n: int, conc: int) -> Result:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def main() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
            async def worker(k: int) -> None:
                for _ in range(k):
                    async with s.post(url, data=body_for(PROMPT), headers=HEADERS) as r:
                        out = (await r.json())["choices"][0]["message"]["content"]
                        assert out
            await asyncio.gather(*(worker(k) for k in split(n, conc)))

    return measure("aiohttp", conc, n, lambda: asyncio.run(main()))


def bench_httpx(port: int, n: int, conc: int) -> Result:
    import httpx

    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def main() -> None:
        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        async with httpx.AsyncClient(limits=limits) as c:
            async def worker(k: int) -> None:
                for _ in range(k):
                    r = await c.post(url, content=body_for(PROMPT), headers=HEADERS)
                    assert r.json()["choices"][0]["message"]["content"]
            await asyncio.gather(*(worker(k) for k in split(n, conc)))

    return measure("httpx (asyncio)", conc, n, lambda: asyncio.run(main()))


def bench_httpx_sync(port: int, n: int, conc: int) -> Result:
    import httpx

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    client = httpx.Client(limits=limits)

    def worker(k: int) -> None:
        for _ in range(k):
            r = client.post(url, content=body_for(PROMPT), headers=HEADERS)
            assert r.json()["choices"][0]["message"]["content"]

    def run() -> None:
        threads = [threading.Thread(target=worker, args=(k,)) for k in split(n, conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    result = measure("httpx.Client", conc, n, run)
    client.close()
    return result


def bench_pw_asyncio(port: int, n: int, conc: int) -> Result:
    from promptwire.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        async def worker(k: int) -> None:
            for _ in range(k):
                r = await target.call(PROMPT)
                assert r.output, r
        await asyncio.gather(*(worker(k) for k in split(n, conc)))
        await target.aclose()

    return measure("promptwire asyncio", conc, n, lambda: asyncio.run(main()))


def bench_pw_trio(port: int, n: int, conc: int) -> Result:
    import trio
    from promptwire.api import AsyncTarget

    target = AsyncTarget.from_config(promptwire_config(port))

    async def main() -> None:
        async def worker(k: int) -> None:
            for _ in range(k):
                r = await target.call(PROMPT)
                assert r.output, r
        async with trio.open_nursery() as nursery:
            for k in split(n, conc):
                nursery.start_soon(worker, k)
        await target.aclose()

    return measure("promptwire trio", conc, n, lambda: trio.run(main))


def bench_pw_sync(port: int, n: int, conc: int) -> Result:
    from promptwire.api import Target

    target = Target.from_config(promptwire_config(port))

    def worker(k: int) -> None:
        for _ in range(k):
            assert target.call(PROMPT).output

    def run() -> None:
        threads = [threading.Thread(target=worker, args=(k,)) for k in split(n, conc)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    result = measure("promptwire sync", conc, n, run)
    target.close()
    return result


def bench_pw_bare(port: int, n: int, conc: int) -> Result:
    """The asyncio binding and driver alone: a canned flow (no templating, h11 or
    transform), to show what the I/O layer costs next to aiohttp's whole stack."""
    from promptwire._async import driver
    from promptwire.backends.asyncio_backend import AsyncioBackend
    from promptwire.pool import Pool

    from sansio_core import actions as A
    from sansio_core.call import Call, CallContext, Flow
    from sansio_core.response import ProviderResponse

    body = body_for(PROMPT)
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    backend = AsyncioBackend()

    def flow(ctx: CallContext) -> Flow:
        conn = ctx.new_conn()
        yield A.Open(conn, "http", "127.0.0.1", port, None, None)
        yield A.Write(conn, request, ctx.now.mono + 300)
        event = yield A.Read(conn, 65536, ctx.now.mono + 300)
        yield A.Release(conn, True)
        return ProviderResponse(n=len(getattr(event, "data", b"")))

    async def main() -> None:
        pool: Pool[Any] = Pool()

        async def worker(k: int) -> None:
            for _ in range(k):
                await driver.drive(Call(flow, CallContext(now=backend.now())), backend, pool)
        await asyncio.gather(*(worker(k) for k in split(n, conc)))

    return measure("pw asyncio I/O only", conc, n, lambda: asyncio.run(main()))


CLIENTS = {"aiohttp": bench_aiohttp, "httpx": bench_httpx, "httpx-sync": bench_httpx_sync,
           "asyncio": bench_pw_asyncio,
           "trio": bench_pw_trio, "sync": bench_pw_sync, "bare": bench_pw_bare}


PROMPTWIRE_CLIENTS = frozenset({"asyncio", "trio", "sync"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--concurrency", default="1,50")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--codecs", default="auto", help="PROMPTWIRE_HTTP_PARSER values, comma-separated")
    args = ap.parse_args()
    codecs = args.codecs.split(",")
    pin_client()
    results = []
    with prebuilt_server() as port:
        for conc in [int(c) for c in args.concurrency.split(",")]:
            for name in args.clients.split(","):
                for codec in codecs if name in PROMPTWIRE_CLIENTS else [None]:
                    if codec is not None:
                        os.environ["PROMPTWIRE_HTTP_PARSER"] = codec
                    CLIENTS[name](port, min(500, args.requests), conc)  # warm-up
                    result = CLIENTS[name](port, args.requests, conc)
                    if codec is not None and len(codecs) > 1:
                        result.name += f" [{codec}]"
                    results.append(result)
    print(report(results, "aiohttp"))


if __name__ == "__main__":
    main()
