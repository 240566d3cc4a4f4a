"""Fuzz raw request mode: any request text becomes a request h11 accepts, or a clear error.

Invariant: compiling a raw ``request:`` and building it either raises
``ConfigError``/``TemplateError`` (promptwire's own errors) or yields a
``PreparedRequest`` that h11 serialises without complaint (valid method,
target and header bytes, consistent content-length).

    python fuzz/fuzz_raw_request.py -max_total_time=3 fuzz/corpus/raw_request
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import h11

    from sansio_core.config.provider import parse_provider_entry
    from sansio_core.errors import ConfigError, TemplateError
    from sansio_core.http.request_plan import RequestPlan, header_bytes
    from sansio_core.sources import Sources
    from sansio_core.templating import TemplateEngine

ENGINE = TemplateEngine({})
VARS = {"prompt": 'a "b"\r\nc', "host": "h.test:8080", "n": 1}


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    if text.startswith("file://"):
        return
    try:
        entry = parse_provider_entry({"id": "http", "config": {"request": text}})
        request = RequestPlan.compile(entry, ENGINE, Sources()).build(VARS)
    except (ConfigError, TemplateError):
        return
    body = request.body or b""
    assert request.header("content-length") in (str(len(body)), None) or (not body and request.header(
        "content-length") == "0")
    conn = h11.Connection(h11.CLIENT)
    headers = [(name.encode("ascii"), header_bytes(value)) for name, value in request.headers]
    conn.send(h11.Request(method=request.method.encode("ascii"), target=request.target.encode("ascii"),
                          headers=headers))
    if body:
        conn.send(h11.Data(data=body))
    conn.send(h11.EndOfMessage())


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
