"""Tests of an LLM endpoint with promptwire cassettes (the plugin loads itself with promptwire).

Record once with ``pytest --promptwire-record-mode=once`` (or ``all`` to re-record);
CI runs plain ``pytest``: every call is answered from ``cassettes/test_chat/<test>.yaml``.
Here the "live service" is promptwire's own mock server (``promptwire_mock``), which
only runs while recording.
"""

from __future__ import annotations

import pytest

# The mock server's port changes from run to run (and replay needs no server at all),
# so these cassettes match requests on method, path and body instead of the full URL.
# Against a real service, the default (method, URL, body) is usually what you want.
pytestmark = pytest.mark.promptwire(match_on=["method", "path", "body"])


def chat(mock, **extra):
    return {
        "id": f"{mock.base_url}/v1/chat/completions",
        "config": {
            "method": "POST",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer {{env.OPENAI_API_KEY}}"},
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{prompt}}"}], **extra},
            "transformResponse": "json.choices[0].message.content",
        },
    }


def test_chat(promptwire_target, promptwire_mock):
    target = promptwire_target(chat(promptwire_mock))
    assert target.call("Hello there").output == "Echo: Hello there"


def test_streamed_answer(promptwire_target, promptwire_mock):
    config = chat(promptwire_mock, stream=True)
    del config["config"]["transformResponse"]
    *deltas, response = promptwire_target(config).stream("one two three")
    assert deltas == ["Echo:", " one", " two", " three"]  # the same deltas, in replay too
    assert response.error is None


def test_rate_limited_then_answered(promptwire_target, promptwire_mock):
    # A 429 with Retry-After: 1 first: recording waits a second, a replay does not wait.
    target = promptwire_target({
        "id": f"{promptwire_mock.base_url}/script/429-then-200?id=example&retry_after=1",
        "config": {"method": "POST", "body": {"q": "{{prompt}}"}, "transformResponse": "json.attempt"},
    })
    assert target.call("hi").output == 2


@pytest.mark.asyncio
async def test_chat_asyncio(promptwire_async_target, promptwire_mock):
    target = promptwire_async_target(chat(promptwire_mock))
    response = await target.call("from asyncio")
    assert response.output == "Echo: from asyncio"


@pytest.mark.trio
async def test_websocket_stream_trio(promptwire_async_target, promptwire_mock):
    target = promptwire_async_target({
        "id": f"{promptwire_mock.ws_url}/ws/stream",
        "config": {
            "messageTemplate": '{"prompt": {{ prompt | dump }}}',
            "streamResponse": "(acc, data) => { const m = JSON.parse(data.data);"
                              " return m.type === 'done' ? [acc, true]"
                              " : [{output: (acc.output || '') + m.content}, false]; }",
        },
    })
    deltas = [item async for item in target.stream("over the socket")]
    assert deltas[-1].output == "Echo: over the socket"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


@pytest.mark.anyio
async def test_chat_anyio(promptwire_async_target, promptwire_mock, anyio_backend):
    response = await promptwire_async_target(chat(promptwire_mock)).call(f"from anyio on {anyio_backend}")
    assert response.output == f"Echo: from anyio on {anyio_backend}"
