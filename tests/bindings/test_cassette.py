"""Cassettes end to end: record live calls against the mock server, replay them with no network.

Replay must give the same ProviderResponse and the same deltas in every binding,
for a plain request, an SSE stream, a 429 retry (whose recorded wait replays
instantly), an OAuth pre-step and a streamed WebSocket answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import trio
from promptwire import AsyncTarget, Cassette, CassetteError, PromptwireError, Target, use_cassette
from promptwire.mock import MockServer

BINDINGS = ["sync", "asyncio", "trio"]


def build(binding: str, config: dict[str, Any], **kw: Any) -> Any:
    cls = Target if binding == "sync" else AsyncTarget
    return cls.from_config(config, env=kw.pop("env", {}), **kw)


def stream(binding: str, target: Any, prompt: str, vars: dict[str, Any] | None = None) -> list[Any]:
    """Every delta, then the response (or the error raised), through ``binding``."""
    if binding == "sync":
        out: list[Any] = []
        try:
            out.extend(target.stream(prompt, vars))
        except PromptwireError as exc:
            out.append(exc)
        target.close()
        return out

    async def main() -> list[Any]:
        items: list[Any] = []
        try:
            async for item in target.stream(prompt, vars):
                items.append(item)
        except PromptwireError as exc:
            items.append(exc)
        await target.aclose()
        return items

    return trio.run(main) if binding == "trio" else asyncio.run(main())


def comparable(items: list[Any]) -> list[Any]:
    out = []
    for item in items:
        if isinstance(item, PromptwireError):
            out.append((type(item).__name__, str(item)))
        elif isinstance(item, dict):
            out.append((dict(item), getattr(item, "timing", None)))
        else:
            out.append(item)
    return out


def chat(mock: MockServer, **extra: Any) -> dict[str, Any]:
    return {"id": f"{mock.base_url}/v1/chat/completions", "config": {
        "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]}, **extra}}


def cases(mock: MockServer) -> dict[str, dict[str, Any]]:
    run = uuid.uuid4().hex[:12]
    sse = chat(mock)
    sse["config"]["body"]["stream"] = True
    return {
        # Date.now() inside the transform must come from the recording.
        "plain": chat(mock, transformResponse="(json) => json.choices[0].message.content + ' @' + Date.now()"),
        "sse": sse,
        "retry429": {"id": f"{mock.base_url}/script/429-then-200?id={run}&retry_after=1", "config": {
            "method": "POST", "body": {"q": "{{prompt}}"}, "transformResponse": "json.output + json.attempt"}},
        "oauth": chat(mock, transformResponse="json.choices[0].message.content", auth={
            "type": "oauth", "grantType": "client_credentials", "tokenUrl": f"{mock.base_url}/oauth/token",
            "clientId": "client-1", "clientSecret": "s3cret-client-value"}),
        "ws": {"id": f"{mock.ws_url}/ws/stream", "config": {
            "messageTemplate": '{"prompt": {{ prompt | dump }}}',
            "streamResponse": "(acc, data) => { const m = JSON.parse(data.data);"
                              " if (m.type === 'done') return [acc, true];"
                              " return [{output: (acc.output || '') + m.content}, false]; }",
            "timeoutMs": 5000}},
    }


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("case", ["plain", "sse", "retry429", "oauth", "ws"])
def test_replay_gives_the_same_response_and_deltas(mock: MockServer, tmp_path: Path, binding: str,
                                                   case: str) -> None:
    config = cases(mock)[case]
    path = tmp_path / "c.yaml"
    live_target = build(binding, config)
    live_target.use_cassette(path, record_mode="once")
    started = time.monotonic()
    live = stream(binding, live_target, "tell me a joke please")
    live_s = time.monotonic() - started
    assert not any(isinstance(x, Exception) for x in live), live
    assert path.exists()

    seen = len(mock.requests)
    target = build(binding, config)
    target.use_cassette(path)  # record_mode none: replay only
    started = time.monotonic()
    replayed = stream(binding, target, "tell me a joke please")
    replay_s = time.monotonic() - started
    assert comparable(replayed) == comparable(live)
    assert len(mock.requests) == seen  # nothing went to the network
    assert target.cassette.all_played
    if case in ("sse", "ws"):
        assert sum(isinstance(x, str) for x in live) > 2  # really streamed
    if case == "retry429":
        assert live_s >= 0.9 and replay_s < 0.5  # the recorded Retry-After wait replays instantly


def test_a_cassette_recorded_in_one_binding_replays_in_the_others(mock: MockServer, tmp_path: Path) -> None:
    config = cases(mock)["sse"]
    path = tmp_path / "c.yaml"
    live = build("sync", config)
    live.use_cassette(path, record_mode="once")
    expected = comparable(stream("sync", live, "a b c"))
    for binding in BINDINGS:
        target = build(binding, config)
        target.use_cassette(path)
        assert comparable(stream(binding, target, "a b c")) == expected


def test_unmatched_request_in_none_mode_names_the_closest_recording(mock: MockServer, tmp_path: Path) -> None:
    config = chat(mock, transformResponse="json.choices[0].message.content")
    path = tmp_path / "c.yaml"
    with Target.from_config(config, env={}) as target:
        cassette = target.use_cassette(path, record_mode="once")
        assert target.call("first prompt").output == "Echo: first prompt"
        assert cassette.record_count == 1

    replay = Target.from_config(config, env={})
    replay.use_cassette(path)
    with pytest.raises(CassetteError) as err:
        replay.call("second prompt")
    text = str(err.value)
    assert "closest recorded exchange: #1 of 1" in text
    assert "body" in text and '-      "content": "first prompt"' in text and '+      "content": "second prompt"' in text
    assert err.value.closest is not None and err.value.closest.method == "POST"


def test_missing_cassette_in_none_mode_says_how_to_record(tmp_path: Path) -> None:
    target = Target.from_config({"id": "http://127.0.0.1:9/x"}, env={})
    target.use_cassette(tmp_path / "nope.yaml")
    with pytest.raises(CassetteError, match=r"does not exist.*record_mode='once'"):
        target.call("hi")


def test_record_modes(mock: MockServer, tmp_path: Path) -> None:
    config = chat(mock, transformResponse="json.choices[0].message.content")
    path = tmp_path / "c.yaml"

    def calls(mode: str, *prompts: str) -> Cassette:
        with Target.from_config(config, env={}) as target:
            cassette = target.use_cassette(path, record_mode=mode)
            for p in prompts:
                assert target.call(p).output == f"Echo: {p}"
        return cassette

    seen = len(mock.requests)
    assert calls("once", "one").record_count == 1
    c = calls("once", "one")  # the file exists: replayed, nothing recorded
    assert (c.record_count, c.play_count) == (0, 1)
    with pytest.raises(CassetteError):
        calls("once", "two")  # once + existing file: an unknown call is an error
    c = calls("new_episodes", "one", "two")  # one replayed, two recorded and appended
    assert (c.record_count, c.play_count, len(c.episodes)) == (1, 1, 2)
    assert len(mock.requests) == seen + 2
    c = calls("all", "three")  # always live; the file now holds this session only
    assert c.record_count == 1 and len(Cassette(path).episodes) == 1
    c = calls("none", "three")
    assert c.play_count == 1


def test_matching_on_chosen_headers(mock: MockServer, tmp_path: Path) -> None:
    def config(trace: str) -> dict[str, Any]:
        return {"id": f"{mock.base_url}/echo", "config": {"method": "POST", "body": "{{prompt}}",
                                                           "headers": {"X-Trace": trace}}}
    path = tmp_path / "c.yaml"
    with Target.from_config(config("a"), env={}) as t:
        t.use_cassette(path, record_mode="once")
        t.call("p")
    # Default matching (method, url, body) ignores the header...
    loose = Target.from_config(config("b"), env={})
    loose.use_cassette(path)
    assert loose.call("p").output
    # ...unless asked to compare it.
    strict = Target.from_config(config("b"), env={})
    strict.use_cassette(path, match_headers=["x-trace"])
    with pytest.raises(CassetteError, match=r'(?s)header x-trace.*- x-trace: "a".*\+ x-trace: "b"'):
        strict.call("p")


def test_one_cassette_over_several_targets(mock: MockServer, tmp_path: Path) -> None:
    a = Target.from_config(chat(mock, transformResponse="json.choices[0].message.content"), env={})
    b = Target.from_config({"id": f"{mock.base_url}/text?text=plain", "config": {}}, env={})
    path = tmp_path / "c.yaml"
    with use_cassette(path, a, b, record_mode="once") as cassette:
        assert a.call("x").output == "Echo: x"
        assert b.call("y").output == "plain"
    a.close()
    b.close()
    assert a.cassette is None and b.cassette is None
    assert len(cassette.episodes) == 2
    seen = len(mock.requests)
    with Cassette(path).use(a, b) as replaying:
        assert b.call("y").output == "plain"
        assert a.call("x").output == "Echo: x"
        assert replaying.all_played
    assert len(mock.requests) == seen


def test_multipart_boundary_and_signature_timestamp_come_from_the_recording(mock: MockServer,
                                                                            tmp_path: Path) -> None:
    config = {"id": f"{mock.base_url}/echo", "config": {
        "method": "POST",
        "multipart": {"parts": [{"kind": "field", "name": "q", "value": "{{prompt}}"}]},
        "transformResponse": "json.body"}}
    path = tmp_path / "c.yaml"
    with Target.from_config(config, env={}) as live:
        live.use_cassette(path, record_mode="once")
        recorded = live.call("hello")
    assert "hello" in recorded.output
    replay = Target.from_config(config, env={})  # another seed: replay must use the recorded one
    replay.use_cassette(path, match_on=["method", "url", "body"])
    assert replay.call("hello") == recorded


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_call_that_raised_raises_the_same_on_replay(mock: MockServer, tmp_path: Path, binding: str) -> None:
    config = {"id": f"{mock.ws_url}/ws/close-early?code=1011&reason=boom",
              "config": {"messageTemplate": "{{prompt}}", "timeoutMs": 5000}}
    path = tmp_path / "c.yaml"
    live = build(binding, config)
    live.use_cassette(path, record_mode="once")
    recorded = stream(binding, live, "x")
    assert isinstance(recorded[-1], PromptwireError)
    target = build(binding, config)
    target.use_cassette(path)
    assert comparable(stream(binding, target, "x")) == comparable(recorded)


def test_filters_and_before_record(mock: MockServer, tmp_path: Path) -> None:
    config = {"id": f"{mock.base_url}/echo?tenant=acme-private&page=1", "config": {
        "method": "POST", "headers": {"X-Team": "team-private-id"}, "body": "{{prompt}}"}}
    path = tmp_path / "c.yaml"
    seen: list[int] = []

    def before_record(episode: Any) -> Any:
        seen.append(len(episode.steps))
        return episode

    with Target.from_config(config, env={}) as t:
        t.use_cassette(Cassette(path, record_mode="once", filter_headers=["x-team"],
                                filter_query_parameters=["tenant"], redact=["page=1"],
                                before_record=before_record))
        t.call("hi")
    text = path.read_text()
    assert seen == [3] and "acme-private" not in text and "team-private-id" not in text
    assert "page=1" not in text
    replay = Target.from_config(config, env={})
    replay.use_cassette(path)
    assert replay.call("hi").error is None
    with Target.from_config(config, env={}) as t:  # before_record may drop an episode
        t.use_cassette(Cassette(tmp_path / "d.yaml", record_mode="all", before_record=lambda e: None))
        t.call("hi")
    assert not (tmp_path / "d.yaml").exists()
