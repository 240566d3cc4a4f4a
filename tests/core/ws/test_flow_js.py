"""WebSocket transforms written as promptfoo users write them: JavaScript strings and files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansio_core.errors import ConfigError, TargetReportedError, TransformError
from sansio_core.sources import Sources
from sansio_core.testing.ws_peer import ScriptedWsServer, WsRun, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

URL = "ws://127.0.0.1:8765/ws"

# The three streamResponse examples of the reference docs, verbatim.
DOC_CONCAT = """(accumulator, data, context) => {
  const msg = typeof data.data === 'string' ? JSON.parse(data.data) : data.data;
  const previous = typeof accumulator?.output === 'string' ? accumulator.output : '';

  if (msg?.type === 'chunk' && typeof msg.text === 'string') {
    return [{ output: previous + msg.text }, false];
  }
  if (msg?.type === 'done') {
    return [{ output: previous }, true];
  }
  return [accumulator, false];
}
"""
DOC_FINAL_ONLY = """(accumulator, data, context) => {
  const msg = typeof data.data === 'string' ? JSON.parse(data.data) : data.data;
  if (msg?.complete === true) {
    return [{ output: msg.content }, true];
  }
  // Not complete yet — keep waiting and keep the previous accumulator
  return [accumulator, false];
}
"""
DOC_DELTAS_THEN_COMPLETE = """(accumulator, data, context) => {
  const msg = typeof data.data === 'string' ? JSON.parse(data.data) : data.data;
  const previous = typeof accumulator?.output === 'string' ? accumulator.output : '';

  if (msg?.event === 'delta' && typeof msg.content === 'string') {
    return [{ output: previous + msg.content }, false];
  }
  if (msg?.complete === true) {
    return [{ output: previous }, true];
  }
  return [accumulator, false];
}
"""
RECIPE = [
    {"role": "assistant", "event": "delta", "content": "Start by sautéing onions...", "complete": False},
    {"role": "assistant", "event": "delta", "content": " then add tomatoes and simmer.", "complete": False},
    {"role": "assistant", "event": "final", "content": "Start by sautéing onions, then add tomatoes and simmer.",
     "complete": True},
]


def run(config: dict[str, Any], steps: list[Any], *, files: dict[str, bytes] | None = None,
        prompt: str = "x", vars: dict[str, Any] | None = None) -> WsRun:
    target = WsTarget.compile(URL, {"messageTemplate": "{{ prompt }}", **config}, Sources(files=files or {}), {})
    call = target.new_call(prompt, vars or {}, None, now=Instant(0.0, 0.0), seed=3)
    return run_ws_call(call, ScriptedWsServer(on_message=steps))


def texts(*frames: Any) -> list[Any]:
    return [("text", f if isinstance(f, str) else json.dumps(f, ensure_ascii=False)) for f in frames]


def test_doc_example_concatenate_chunks() -> None:
    steps = texts({"type": "chunk", "text": "You should visit "}, {"type": "chunk", "text": "Kyoto in spring."},
                  {"type": "done"})
    result = run({"streamResponse": DOC_CONCAT}, steps)
    assert result.response == {"output": "You should visit Kyoto in spring."}
    assert result.deltas == ["You should visit ", "Kyoto in spring."]


def test_doc_example_final_message_only() -> None:
    result = run({"streamResponse": DOC_FINAL_ONLY}, texts(*RECIPE))
    assert result.response == {"output": "Start by sautéing onions, then add tomatoes and simmer."}


def test_doc_example_deltas_then_complete() -> None:
    result = run({"streamResponse": DOC_DELTAS_THEN_COMPLETE}, texts(*RECIPE))
    assert result.response == {"output": "Start by sautéing onions... then add tomatoes and simmer."}


@pytest.mark.parametrize(
    ("transform", "frame", "output"),
    [
        ("data.choices[0].message.content", {"choices": [{"message": {"content": "C"}}]}, "C"),
        ("data.items", {"items": [1, 2]}, [1, 2]),
        ('""', {"a": 1}, ""),
        # promptfoo returns the function object here (WS-50); the docs call it a function.
        ("(data) => data.text", {"text": "T"}, "T"),
        ("d => d.text", {"text": "T"}, "T"),
        ("const t = data.text; return t.toUpperCase()", {"text": "t"}, "T"),
    ],
)
def test_transform_response_forms(transform: str, frame: Any, output: Any) -> None:
    assert run({"transformResponse": transform}, texts(frame)).response == {"output": output}


def test_transform_response_full_object_is_kept() -> None:
    transform = "({ output: data.text, tokenUsage: { total: data.n }, metadata: { id: data.id } })"
    result = run({"transformResponse": transform}, texts({"text": "T", "n": 5, "id": "m1"}))
    assert result.response == {"output": "T", "tokenUsage": {"total": 5}, "metadata": {"id": "m1"}}


def test_transform_response_error_rejects_with_its_text() -> None:
    transform = 'data.ok ? data.text : { error: "server said: " + data.reason }'
    err = run({"transformResponse": transform}, texts({"ok": False, "reason": "quota"})).error
    assert isinstance(err, TargetReportedError) and str(err) == "server said: quota"


@pytest.mark.parametrize("transform", ["data.nope", "({ output: data.nope, note: 1 })", '({ error: "" })'])
def test_transform_response_without_output(transform: str) -> None:
    err = run({"transformResponse": transform}, texts({"a": 1})).error
    assert isinstance(err, TransformError) and "No output" in str(err)


def test_transform_response_runtime_error() -> None:
    err = run({"transformResponse": "data.a.b"}, texts({"answer": "A"})).error
    assert isinstance(err, TransformError)
    assert str(err).startswith("Failed to process response: ")
    assert "b" in str(err)


def test_transform_response_syntax_error_fails_at_load() -> None:
    with pytest.raises(ConfigError) as info:
        run({"transformResponse": "this is not js !!!"}, [])
    assert info.value.path == "transformResponse"


def test_transform_response_from_a_file() -> None:
    module = b"module.exports = (data) => ({ output: data.answer.toUpperCase(), metadata: { model: data.model } });"
    result = run({"transformResponse": "file://t.js"}, texts({"answer": "shout", "model": "m2"}),
                 files={"t.js": module})
    assert result.response == {"output": "SHOUT", "metadata": {"model": "m2"}}


def test_stream_response_named_export_from_a_file() -> None:
    module = b"""
module.exports.upper = (acc, event) => [{ output: event.data.toUpperCase() }, true];
"""
    result = run({"streamResponse": "file://h.js:upper"}, texts("kyoto"), files={"h.js": module})
    assert result.response == {"output": "KYOTO"}


def test_stream_response_statement_body_and_bare_expression() -> None:
    body = ("const m = JSON.parse(data.data);\nif (!m.final) return [accumulator, false];\n"
            "return [{ output: m.text }, true];")
    result = run({"streamResponse": body}, texts({"final": False, "text": "p"}, {"final": True, "text": "FINAL"}))
    assert result.response == {"output": "FINAL"}
    result = run({"streamResponse": "[{ output: data.data.toUpperCase() }, true]"}, texts("shout"))
    assert result.response == {"output": "SHOUT"}


def test_stream_response_arrow_without_parens_and_async_are_called() -> None:
    # promptfoo does not recognise these forms (WS-83, WS-84); promptwire calls them.
    assert run({"streamResponse": "e => [{ output: 'x' + 1 }, true]"}, texts("f")).response == {"output": "x1"}
    result = run({"streamResponse": "async (acc, event) => [{ output: event.data }, true]"}, texts("f"))
    assert result.response == {"output": "f"}


def test_stream_response_complete_flag_is_truthiness() -> None:
    handler = '(acc, event) => [{ output: event.data }, event.data === "end" ? "DONE" : ""]'
    assert run({"streamResponse": handler}, texts("a", "end")).response == {"output": "end"}


def test_stream_response_throw_and_bad_return() -> None:
    err = run({"streamResponse": '(acc, event) => { throw new Error("boom") }'}, texts("f")).error
    assert isinstance(err, TransformError)
    assert str(err).startswith("Error executing streamResponse function: ") and "boom" in str(err)
    err = run({"streamResponse": "(acc, event) => ({ output: event.data })"}, texts("f")).error
    assert isinstance(err, TransformError) and "[result, complete]" in str(err)


def test_stream_response_sees_binary_utf8_as_text_and_context_vars() -> None:
    handler = "(acc, ev, ctx) => [{ output: typeof ev.data + ':' + ev.data + ':' + ctx.vars.v }, true]"
    result = run({"streamResponse": handler}, [("bytes", b"bytes")], vars={"v": 1})
    assert result.response == {"output": "string:bytes:1"}


def test_stream_response_error_result_resolves() -> None:
    result = run({"streamResponse": '(acc, event) => [{ error: "target said no" }, true]'}, texts("f"))
    assert result.response == {"error": "target said no"}
