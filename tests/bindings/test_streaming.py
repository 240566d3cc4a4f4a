"""``stream()`` and compressed bodies through the public API, in every binding.

``Target.stream`` / ``AsyncTarget.stream`` yield text deltas (str) while the
body arrives, then the ProviderResponse, whose ``raw`` and transformResponse
still see the whole body (promptfoo parity). The servers are the mock's
streaming endpoints (``docs/mock-server.md``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import pytest
import trio
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import LimitExceeded, RetriesExhausted, TransportError
from sansio_core.response import ProviderResponse

BINDINGS = ["sync", "asyncio", "trio"]
ENV = {"PROMPTFOO_REQUEST_BACKOFF_MS": "10"}
Timed = list[tuple[float, Any]]  # (time.monotonic() when the item arrived, item)


class Api:
    """One binding behind the public API: a fresh target per call, closed afterwards."""

    def __init__(self, name: str) -> None:
        self.name = name

    def call(self, entry: Mapping[str, Any], prompt: str = "hi") -> ProviderResponse:
        if self.name == "sync":
            with Target.from_config(dict(entry), env=ENV, seed=7) as target:
                return target.call(prompt)

        async def main() -> ProviderResponse:
            target = AsyncTarget.from_config(dict(entry), env=ENV, seed=7)
            try:
                return await target.call(prompt)
            finally:
                await target.aclose()

        return self.run(main)

    def stream(self, entry: Mapping[str, Any], prompt: str = "hi") -> Timed:
        if self.name == "sync":
            with Target.from_config(dict(entry), env=ENV, seed=7) as target:
                return [(time.monotonic(), item) for item in target.stream(prompt)]

        async def main() -> Timed:
            target = AsyncTarget.from_config(dict(entry), env=ENV, seed=7)
            try:
                return [(time.monotonic(), item) async for item in target.stream(prompt)]
            finally:
                await target.aclose()

        return self.run(main)

    def stream_until_error(self, entry: Mapping[str, Any]) -> tuple[list[Any], BaseException | None]:
        """Everything ``stream()`` yielded before it raised, and the error (None if it ended)."""
        got: list[Any] = []
        if self.name == "sync":
            with Target.from_config(dict(entry), env=ENV, seed=7) as target:
                try:
                    got.extend(target.stream("hi"))
                except Exception as exc:
                    return got, exc
                return got, None

        async def main() -> BaseException | None:
            target = AsyncTarget.from_config(dict(entry), env=ENV, seed=7)
            try:
                async for item in target.stream("hi"):
                    got.append(item)
            except Exception as exc:
                return exc
            finally:
                await target.aclose()
            return None

        return got, self.run(main)

    def run(self, main: Callable[[], Awaitable[Any]]) -> Any:
        if self.name == "trio":
            return trio.run(main)
        return asyncio.run(main())  # type: ignore[arg-type]


@pytest.fixture(params=BINDINGS)
def api(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)


def entry(mock: MockServer, target: str, **config: Any) -> dict[str, Any]:
    return {"id": mock.base_url + target, "config": {"method": "GET", **config}}


def chat(mock: MockServer, query: str = "", **config: Any) -> dict[str, Any]:
    """An OpenAI chat-completion target asking for a stream (no transform)."""
    return {"id": f"{mock.base_url}/v1/chat/completions{query}", "config": {
        "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": {"model": "m", "stream": True, "messages": [{"role": "user", "content": "{{prompt}}"}]},
        **config}}


def split(items: Timed) -> tuple[list[str], ProviderResponse]:
    """The deltas and the final response; checks that the response comes last, once."""
    *deltas, (_, final) = items
    assert isinstance(final, ProviderResponse)
    assert all(isinstance(d, str) for _, d in deltas)
    return [d for _, d in deltas], final


def sse_data(raw: str) -> list[str]:
    return [line[len("data: "):] for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if line.startswith("data: ")]


# -- deltas while the body streams ------------------------------------------------------------


def test_deltas_arrive_before_the_body_ends(api: Api, mock: MockServer) -> None:
    items = api.stream(entry(mock, "/sse?events=4&delay_ms=60"))
    deltas, final = split(items)
    assert deltas == ["tok0 ", "tok1 ", "tok2 ", "tok3 "]
    first_delta_at, end_at = items[0][0], items[-1][0]
    # 6 writes 60 ms apart (4 tokens, the finish chunk, [DONE]): the first token
    # is in the caller's hands about 240 ms before the response is complete.
    assert end_at - first_delta_at > 0.15
    timing = final.timing
    assert timing["firstByteMs"] <= timing["firstTokenMs"] <= timing["totalMs"]
    assert timing["totalMs"] - timing["firstTokenMs"] > 150
    assert timing["attempts"] == 1


def test_openai_chat_completion_stream(api: Api, mock: MockServer) -> None:
    items = api.stream(chat(mock, "?interval_ms=20"), "hello big world")
    deltas, final = split(items)
    assert deltas == ["Echo:", " hello", " big", " world"]
    assert "".join(deltas) == "Echo: hello big world"
    # Parity: with no transform the output is the whole body text, as in promptfoo.
    assert final.output == final.raw
    payloads = sse_data(final.raw)
    assert payloads[-1] == "[DONE]"
    assert "".join(json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1]) == \
        "Echo: hello big world"
    assert final.metadata["http"]["headers"]["content-type"] == "text/event-stream"
    timing = final.timing
    assert 0 <= timing["firstByteMs"] <= timing["firstTokenMs"] < timing["totalMs"]


def test_transform_response_sees_the_whole_streamed_text(api: Api, mock: MockServer) -> None:
    transform = ("(json, text) => ({output: text.split('\\n\\n').filter(Boolean).length, "
                 "metadata: {json: json === null}})")
    items = api.stream(chat(mock, transformResponse=transform), "one two")
    deltas, final = split(items)
    assert "".join(deltas) == "Echo: one two"
    # role chunk + 3 word chunks + finish chunk + [DONE]: every event reached the transform.
    assert final.output == 6
    assert final.metadata["json"] is True  # an SSE body is not JSON: json is null, as in promptfoo
    assert len(sse_data(final.raw)) == 6


def test_call_and_stream_give_the_same_response(api: Api, mock: MockServer) -> None:
    called = api.call(entry(mock, "/sse?events=3"))
    _, streamed = split(api.stream(entry(mock, "/sse?events=3")))
    assert called.raw == streamed.raw and called.output == streamed.output


@pytest.mark.parametrize("eol", ["lf", "crlf", "cr"])
def test_sse_endpoint_joined_deltas(api: Api, mock: MockServer, eol: str) -> None:
    deltas, final = split(api.stream(entry(mock, f"/sse?text=the+quick+brown+fox&eol={eol}")))
    assert deltas == ["the", " quick", " brown", " fox"]
    payloads = sse_data(final.raw)
    assert payloads[-1] == "[DONE]"
    assert "".join(json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1]) == \
        "the quick brown fox"


def test_sse_without_done_still_ends_with_the_body(api: Api, mock: MockServer) -> None:
    deltas, final = split(api.stream(entry(mock, "/sse?events=2&done=0")))
    assert deltas == ["tok0 ", "tok1 "]
    assert "[DONE]" not in final.raw


def test_last_event_without_a_blank_line_still_counts(api: Api, mock: MockServer) -> None:
    """A server that closes right after its last ``data:`` line: the text and the
    time to first token are still reported."""
    from urllib.parse import quote

    body = 'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n'
    deltas, final = split(api.stream(entry(
        mock, f"/status/200?content_type=text/event-stream&body={quote(body)}")))
    assert deltas == ["Hi"]
    assert final.raw == body
    assert final.timing["firstTokenMs"] is not None
    assert final.timing["firstByteMs"] <= final.timing["firstTokenMs"] <= final.timing["totalMs"]


def test_anthropic_message_stream(api: Api, mock: MockServer) -> None:
    target = {"id": f"{mock.base_url}/anthropic/stream", "config": {
        "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": {"model": "claude", "stream": True, "messages": [{"role": "user", "content": "{{prompt}}"}]}}}
    items = api.stream(target, "stream me please")
    deltas, final = split(items)
    assert "".join(deltas) == "Echo: stream me please"
    assert len(deltas) > 1
    assert "event: message_stop" in final.raw and "event: message_start" in final.raw
    timing = final.timing
    assert timing["firstByteMs"] <= timing["firstTokenMs"] <= timing["totalMs"]


def test_mock_ndjson_shape_gives_no_deltas_but_the_whole_body(api: Api, mock: MockServer) -> None:
    # The mock's /ndjson lines ({"index", "content"}) match none of the known
    # stream shapes (OpenAI, Anthropic, Ollama, Gemini), so no text is
    # guessed; the lines, split mid-line on the wire, still arrive whole.
    deltas, final = split(api.stream(entry(mock, "/ndjson?lines=3")))
    assert deltas == []
    assert final.raw == "".join(json.dumps({"index": i, "content": f"tok{i} "}, separators=(",", ":")) + "\n"
                                for i in range(3))
    assert final.timing["firstTokenMs"] is None


def test_ollama_ndjson_joined_deltas(api: Api, mock: MockServer) -> None:
    body = "".join(json.dumps(line) + "\n" for line in [
        {"model": "llama", "message": {"role": "assistant", "content": "Hel"}, "done": False},
        {"model": "llama", "message": {"role": "assistant", "content": "lo!"}, "done": False},
        {"model": "llama", "message": {"role": "assistant", "content": ""}, "done": True},
    ])
    from urllib.parse import quote

    deltas, final = split(api.stream(entry(
        mock, f"/status/200?content_type=application/x-ndjson&body={quote(body)}")))
    assert "".join(deltas) == "Hello!"
    assert final.raw == body


def test_plain_text_body_gives_no_deltas(api: Api, mock: MockServer) -> None:
    deltas, final = split(api.stream(entry(mock, "/drip?interval_ms=10&chunks=3")))
    assert deltas == []
    assert final.output == "drip 0\ndrip 1\ndrip 2\n"
    assert final.timing["firstTokenMs"] is None
    assert final.timing["firstByteMs"] <= final.timing["totalMs"]


# -- content codings ------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "coding"), [("/gzip", "gzip"), ("/deflate", "deflate"),
                                              ("/deflate?raw=1", "deflate")])
def test_compressed_bodies_are_decoded(api: Api, mock: MockServer, path: str, coding: str) -> None:
    r = api.call(entry(mock, path, transformResponse="json.output"))
    assert r.output == f"hello from a {coding} body"
    assert json.loads(r.raw)["encoding"] == coding
    # Like fetch: the decoded body no longer has the coding or the wire length.
    headers = r.metadata["http"]["headers"]
    assert "content-encoding" not in headers and "content-length" not in headers


def test_gzip_bomb_is_a_limit_error(api: Api, mock: MockServer) -> None:
    t0 = time.monotonic()
    with pytest.raises(LimitExceeded) as info:
        api.call(entry(mock, "/gzip-bomb"))
    assert "decoded gzip body larger than" in str(info.value)
    assert time.monotonic() - t0 < 5  # stopped at the cap, not after inflating 1 GiB


# -- the consumer stops early ----------------------------------------------------------------------


def test_stopping_a_stream_early_closes_its_connection(api: Api, mock: MockServer) -> None:
    """Breaking out after the first delta must not pool the half-read socket."""
    # One target (one pool) for both calls: the URL path comes from a var.
    target_entry = {"id": mock.base_url + "/{{path}}", "config": {"method": "GET"}}
    stream_vars = {"path": "sse?events=5&delay_ms=30"}
    echo_vars = {"path": "echo"}
    if api.name == "sync":
        with Target.from_config(target_entry, env=ENV) as target:
            gen = target.stream("hi", stream_vars)
            got = next(gen)
            gen.close()
            after = target.call("x", echo_vars)
    else:
        async def main() -> tuple[Any, ProviderResponse]:
            target = AsyncTarget.from_config(target_entry, env=ENV)
            agen = target.stream("hi", stream_vars)
            got = await agen.__anext__()
            await agen.aclose()
            try:
                return got, await target.call("x", echo_vars)
            finally:
                await target.aclose()

        got, after = api.run(main)
    assert got == "tok0 "
    # The next call on the same target got its own answer, not the rest of the
    # abandoned stream, and on a fresh connection.
    assert json.loads(after.raw)["path"] == "/echo"


# -- a stream that breaks after some text was handed out ----------------------------------------


def _sse_event(text: str) -> bytes:
    event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


_SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


@pytest.fixture
def breaking_sse() -> Iterator[tuple[str, list[int]]]:
    """A loopback server whose every answer is an SSE head and two events, then a close.

    Yields its URL and a list that grows by one per accepted connection.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                accepted.append(1)
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(_SSE_HEAD + _sse_event("A") + _sse_event("B"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/stream", accepted
    finally:
        stop.set()
        thread.join(2)
        server.close()


def test_a_stream_cut_after_deltas_is_not_retried(api: Api, breaking_sse: tuple[str, list[int]]) -> None:
    """A retry would hand the caller the same text twice ("ABAB..."): the call fails instead."""
    url, accepted = breaking_sse
    got, err = api.stream_until_error({"id": url, "config": {"method": "GET"}})
    assert got == ["A", "B"]
    assert isinstance(err, RetriesExhausted)
    assert str(err) == ("Request failed after 0 retries: the server closed the connection before the "
                        "response was complete; not retried: part of the text was already streamed")
    assert isinstance(err.__cause__, TransportError) and err.__cause__.response_started
    assert len(accepted) == 1
