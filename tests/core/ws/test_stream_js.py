"""A JavaScript ``streamResponse`` keeps its accumulator as a live JavaScript value between
frames, and everything a user sees stays as it was when the accumulator crossed as JSON
every frame: results, deltas, completion, and error texts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.call import Call
from sansio_core.errors import TransformError, WebSocketClosed
from sansio_core.js.engine import JsEngine
from sansio_core.js.limits import JsLimits
from sansio_core.sources import Sources
from sansio_core.testing.driver import VirtualClock
from sansio_core.testing.ws_peer import ScriptedWsServer, WsPeer, WsRun, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

URL = "ws://127.0.0.1:8765/ws"
PREFIX = "Error executing streamResponse function: "


def target(handler: Any, *, files: dict[str, bytes] | None = None, js: JsEngine | None = None) -> WsTarget:
    return WsTarget.compile(URL, {"messageTemplate": "{{ prompt }}", "streamResponse": handler},
                            Sources(files=files or {}), {}, js=js)


def run(handler: Any, frames: list[Any], *, files: dict[str, bytes] | None = None, t: WsTarget | None = None,
        seed: int = 3) -> WsRun:
    t = t or target(handler, files=files)
    call = t.new_call("x", {"v": 1}, None, now=Instant(0.0, 0.0), seed=seed)
    return run_ws_call(call, ScriptedWsServer(on_message=[f if isinstance(f, tuple) else ("text", f) for f in frames]))


# -- the accumulator is a live JavaScript value ------------------------------------------------

LIVE = """(acc, ev) => {
  if (!(acc.seen instanceof Map)) {
    acc = { seen: new Map(), since: new Date(86400000), shout: (s) => s.toUpperCase(), log: new Log() };
  }
  acc.seen.set(ev.data, (acc.seen.get(ev.data) || 0) + 1);
  acc.log.add(ev.data);
  if (ev.data !== "end") return [acc, false];
  const counts = [...acc.seen].map(([k, n]) => k + "=" + n).join(",");
  return [{ output: acc.shout(counts) + " since " + acc.since.toISOString().slice(0, 10) + " " + acc.log.text() }, true];
}"""
LOG_CLASS = "class Log { constructor() { this.items = []; } add(x) { this.items.push(x); } text() { return this.items.join('|'); } }"
LIVE_EXPECTED = "A=2,B=1,END=1 since 1970-01-02 a|b|a|end"


@pytest.mark.parametrize("form", ["inline", "body", "file"])
def test_maps_dates_functions_and_class_instances_survive_between_frames(form: str) -> None:
    files = None
    if form == "inline":
        handler = LIVE.replace("(acc, ev) => {", "(acc, ev) => {\n" + LOG_CLASS, 1)
    elif form == "body":
        handler = f"{LOG_CLASS}\nconst f = {LIVE};\nreturn f(accumulator, data);"
    else:
        handler = "file://live.js"
        files = {"live.js": f"{LOG_CLASS}\nmodule.exports = {LIVE};".encode()}
    result = run(handler, ["a", "b", "a", "end"], files=files)
    assert result.response == {"output": LIVE_EXPECTED}


def test_context_is_one_object_for_the_whole_call() -> None:
    handler = """(acc, ev, ctx) => {
      ctx.frames = (ctx.frames || 0) + 1;
      return ev.data === "end" ? [{ output: ctx.frames + " frames, v=" + ctx.vars.v + ", " + ctx.prompt }, true]
                               : [acc, false];
    }"""
    assert run(handler, ["a", "b", "end"]).response == {"output": "3 frames, v=1, x"}


def test_context_text_that_is_not_valid_unicode_arrives_as_is() -> None:
    handler = "(acc, ev, ctx) => [{ output: ctx.vars.v.length + ':' + ctx.vars.w }, true]"
    t = target(handler)
    call = t.new_call("x", {"v": "a\ud83d", "w": "é😀"}, None, now=Instant(0.0, 0.0), seed=1)
    result = run_ws_call(call, ScriptedWsServer(on_message=[("text", "f")]))
    assert result.response == {"output": "2:é😀"}


def test_each_frame_sees_the_calls_clock() -> None:
    handler = """(acc, ev) => {
      if (ev.data === "first") return [{ t0: Date.now() }, false];
      return [{ output: String(Date.now() - acc.t0) }, true];
    }"""
    result = run(handler, ["first", ("sleep", 0.75), "second"])
    assert result.response == {"output": "750"}


def test_async_handlers_keep_their_accumulator_too() -> None:
    handler = """async (acc, ev) => {
      await null;
      const parts = Array.isArray(acc.parts) ? acc.parts : [];
      parts.push(ev.data);
      return [{ parts, output: parts.join("") }, ev.data === "!"];
    }"""
    result = run(handler, ["a", "b", "!"])
    assert result.response == {"output": "ab!", "parts": ["a", "b", "!"]}
    assert result.deltas == ["a", "b", "!"]


# -- state belongs to one call and ends with it -------------------------------------------------

def _stepper(call: Call, peer: WsPeer, clock: VirtualClock, deltas: list[str]) -> Iterator[A.Action]:
    """``testing.driver.drive``, one action per ``next()``, so two calls can interleave."""
    while True:
        action = call.next_action()
        if isinstance(action, A.TERMINAL):
            yield action
            return
        event: E.Event | None = None
        if isinstance(action, A.Open):
            event = peer.open(action, clock)
        elif isinstance(action, A.Write):
            event = peer.write(action, clock)
        elif isinstance(action, A.Read):
            event = peer.read(action, clock)
        elif isinstance(action, A.Close):
            peer.close(action.conn)
        elif isinstance(action, A.Emit):
            deltas.append(action.delta)
        if event is not None:
            call.feed(event, clock.now)
        yield action


def _interleave(t: WsTarget, scripts: list[list[str]]) -> tuple[list[A.Action], list[list[str]]]:
    """Run one call per script on ``t``, one action of each in turn (one frame per read)."""
    runs = []
    for seed, words in enumerate(scripts):
        call = t.new_call("x", {}, None, now=Instant(0.0, 0.0), seed=seed)
        peer = WsPeer(ScriptedWsServer(on_message=[("text", w) for w in words]), 0.0, read_size=4)
        deltas: list[str] = []
        runs.append((_stepper(call, peer, VirtualClock(Instant(0.0, 1.7e9)), deltas), deltas))
    ends: list[A.Action | None] = [None] * len(runs)
    while None in ends:
        for i, (steps, _) in enumerate(runs):
            if ends[i] is None:
                action = next(steps)
                if isinstance(action, A.TERMINAL):
                    ends[i] = action
    return [e for e in ends if e is not None], [d for _, d in runs]


PARTS = """(acc, ev) => {
  if (ev.data === "spin") for (;;) {}
  const parts = Array.isArray(acc.parts) ? acc.parts : [];
  parts.push(ev.data);
  return [{ parts, output: parts.join(" ") }, ev.data.endsWith("end")];
}"""


def test_two_calls_in_flight_on_one_target_keep_their_own_accumulators() -> None:
    ends, deltas = _interleave(target(PARTS), [["a1", "a2", "a3", "a-end"], ["b1", "b2", "b-end"]])
    assert [e.response["output"] for e in ends if isinstance(e, A.Complete)] == ["a1 a2 a3 a-end", "b1 b2 b-end"]
    assert deltas == [["a1", " a2", " a3", " a-end"], ["b1", " b2", " b-end"]]


def test_a_call_that_hits_the_time_limit_does_not_lose_another_calls_accumulator() -> None:
    t = target(PARTS, js=JsEngine(limits=JsLimits(time_s=0.2)))
    ends, _ = _interleave(t, [["a1", "spin"], ["b1", "b2", "b3", "b-end"]])
    assert isinstance(ends[0], A.Fail) and "time limit" in str(ends[0].error)
    assert isinstance(ends[1], A.Complete) and ends[1].response["output"] == "b1 b2 b3 b-end"


BIG = """(acc, ev) => {
  if (ev.data === "big") return [{ big: "x".repeat(6 * 1024 * 1024), n: 1 }, false];
  if (ev.data === "throw") throw new Error("boom " + acc.big.length);
  return [{ output: "done " + acc.big.length }, true];
}"""


@pytest.mark.parametrize("ending", ["complete", "throw", "server closes"])
def test_the_accumulator_is_freed_when_the_call_ends(ending: str) -> None:
    # 20 calls each leave 6 MiB in the accumulator: under a 48 MiB heap only freeing
    # each call's state (success, error or a dropped connection) lets them all run.
    t = target(BIG, js=JsEngine(limits=JsLimits(memory=48 * 1024 * 1024)))
    last: Any = {"complete": ("text", "end"), "throw": ("text", "throw"), "server closes": ("close", 1011, "bye")}
    for seed in range(20):
        result = run(BIG, ["big", last[ending]], t=t, seed=seed)
        if ending == "complete":
            assert result.response == {"output": f"done {6 * 1024 * 1024}"}
        elif ending == "throw":
            assert isinstance(result.error, TransformError)
            assert str(result.error) == f"{PREFIX}Error in stream response function: Error: boom {6 * 1024 * 1024}"
        else:
            assert isinstance(result.error, WebSocketClosed)


def test_a_call_abandoned_on_another_thread_is_freed_by_its_owner() -> None:
    # A call dropped mid-stream and finalised on another thread: the session is
    # not entered from there, but freed by the owner's next call.
    t = target(BIG, js=JsEngine(limits=JsLimits(memory=48 * 1024 * 1024), owner=threading.get_ident))
    for seed in range(20):
        call = t.new_call("x", {}, None, now=Instant(0.0, 0.0), seed=seed)
        peer = WsPeer(ScriptedWsServer(on_message=[("text", "big"), ("hang",)]), 0.0, read_size=None)
        steps = _stepper(call, peer, VirtualClock(Instant(0.0, 1.7e9)), [])
        reads = 0
        while reads < 3:  # the handshake, the frame, then the wait for the next one
            reads += isinstance(next(steps), A.Read)
        holder: list[Any] = [steps]
        del call, steps, peer
        worker = threading.Thread(target=holder.clear)
        worker.start()
        worker.join()
    assert run(BIG, ["big", "end"], t=t).response == {"output": f"done {6 * 1024 * 1024}"}


def test_a_handler_that_runs_away_fails_its_call_and_the_next_call_works() -> None:
    handler = """(acc, ev) => {
      if (ev.data === "spin") for (;;) {}
      return [{ output: (acc.output || "") + ev.data }, ev.data === "end"];
    }"""
    t = target(handler, js=JsEngine(limits=JsLimits(time_s=0.2)))
    err = run(handler, ["a", "spin"], t=t).error
    assert isinstance(err, TransformError)
    assert "JavaScript ran longer than the time limit" in str(err) and str(err).startswith(PREFIX)
    assert run(handler, ["a", "b", "end"], t=t).response == {"output": "abend"}


# -- what Python sees is what the per-frame JSON round trip showed ------------------------------

@pytest.mark.parametrize(
    ("returned", "kind"),
    [
        ("null", "null"),
        ("undefined", "undefined"),
        ("({ output: 1 })", "an object"),
        ("new Map([[1, 2]])", "an object"),
        ("'s'", "str"),
        ("new Date(0)", "str"),
        ("new Error('e')", "str"),
        ("(() => 1)", "str"),
        ("Symbol('s')", "undefined"),
        ("1", "int"),
        ("2 ** 60", "float"),
        ("1.5", "float"),
        ("NaN", "float"),
        ("10n", "int"),
        ("true", "bool"),
        ("Promise.resolve(null)", "null"),
    ],
)
def test_a_return_that_is_not_an_array_names_what_it_was(returned: str, kind: str) -> None:
    err = run(f"(acc, ev) => {returned}", ["f"]).error
    assert isinstance(err, TransformError)
    assert str(err) == f"{PREFIX}it must return [result, complete], got {kind}"


@pytest.mark.parametrize(
    ("returned", "response"),
    [
        ("[acc, true]", {"error": "unknown error occurred"}),
        ("[undefined, true]", {"output": None}),
        ("[, true]", {"output": None}),
        ("[() => 1, true]", {"output": None}),
        ("[{ output: undefined, note: 1 }, true]", {"output": {"note": 1}}),
        ("[{ error: 'no' }, true]", {"error": "no"}),
        ("[{ output: 'o', metadata: { m: new Map(), d: new Date(0) } }, true]",
         {"output": "o", "metadata": {"m": {}, "d": "1970-01-01T00:00:00.000Z"}}),
        ("[new Date(0), true]", {"output": "1970-01-01T00:00:00.000Z"}),
        ("['text', 1]", {"output": "text"}),
        ("[[1, 2], 'yes']", {"output": [1, 2]}),
        ("[{ toJSON: () => ({ output: 'via toJSON' }) }, {}]", {"output": "via toJSON"}),
        ("({ toJSON: () => [{ output: 'pair via toJSON' }, true] })", {"output": "pair via toJSON"}),
    ],
)
def test_the_final_accumulator_reads_as_its_json(returned: str, response: dict[str, Any]) -> None:
    assert run(f"(acc, ev) => {returned}", ["f"]).response == response


@pytest.mark.parametrize(
    ("flag", "complete"),
    [("true", True), ("1", True), ("'x'", True), ("{}", True), ("[]", True),
     ("false", False), ("0", False), ("''", False), ("null", False), ("undefined", False),
     ("NaN", False), ("Infinity", False), ("(() => true)", False), ("Symbol('s')", False),
     ("new Boolean(false)", False), ("({ toJSON: () => 0 })", False), ("new Date(0)", True)],
)
def test_the_complete_flag_is_read_as_its_json(flag: str, complete: bool) -> None:
    handler = f"(acc, ev) => ev.data === 'first' ? [{{ output: 'first' }}, {flag}] : [{{ output: 'first, then second' }}, true]"
    result = run(handler, ["first", "second"])
    assert result.response == {"output": "first" if complete else "first, then second"}


def test_the_pair_is_only_checked_for_being_an_array() -> None:
    # An empty array is a pair that never completes (the old round trip read it so too).
    handler = "(acc, ev) => ev.data === 'end' ? [{ output: 'end' }, true] : []"
    assert run(handler, ["a", "end"]).response == {"output": "end"}


def test_deltas_only_when_output_extends_what_was_emitted() -> None:
    handler = """(acc, ev) => {
      const outs = { a: "ab", b: "abc", c: "xyz", d: "abcd", e: 7, f: "abcdé😀", g: "abcdé😀!" };
      const out = outs[ev.data];
      return [ev.data === "h" ? { output: "abcdé😀!?" } : { output: out }, ev.data === "h"];
    }"""
    result = run(handler, list("abcdefgh"))
    assert result.deltas == ["ab", "c", "d", "é😀", "!", "?"]
    assert result.response == {"output": "abcdé😀!?"}


def test_output_getters_and_inherited_outputs_read_as_json_shows_them() -> None:
    handler = """(acc, ev) => {
      class Acc { get output() { return "from the prototype"; } }
      if (ev.data === "proto") return [new Acc(), false];
      if (ev.data === "own") return [{ get output() { return "own getter"; } }, false];
      return [{ output: "own getter, done" }, true];
    }"""
    result = run(handler, ["proto", "own", "end"])
    assert result.deltas == ["own getter", ", done"]


def test_text_that_cannot_cross_as_is_still_arrives_whole() -> None:
    # NUL in a frame and in a delta, a lone surrogate in the output.
    handler = """(acc, ev) => {
      if (ev.data === "lone") return [{ output: acc.output + "\\ud83d" }, false];
      // The lone half becomes a pair: no extension in code points, so no delta.
      if (ev.data === "pair") return [{ output: acc.output.slice(0, -1) + "\\ud83d\\ude00" }, true];
      return [{ output: ev.data + "|" + ev.data.length }, false];
    }"""
    result = run(handler, ["a\x00b", "lone", "pair"])
    assert result.deltas == ["a\x00b|3", "\ud83d"]
    assert result.response == {"output": "a\x00b|3\U0001f600"}


def test_binary_frames_reach_the_handler_as_the_event_shape() -> None:
    handler = """(acc, ev) => [{ output: JSON.stringify(ev) }, true]"""
    text = run(handler, [("bytes", b"\xff\x00\x01")]).response["output"]
    assert json.loads(text) == {"type": "message", "data": {"type": "Buffer", "data": [255, 0, 1]}, "isBinary": True}
    text = run(handler, [("bytes", "é".encode())]).response["output"]
    assert json.loads(text) == {"type": "message", "data": "é", "isBinary": True}


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("(acc, ev) => { throw new Error('boom'); }", f"{PREFIX}Error in stream response function: Error: boom"),
        ("if (data) throw new TypeError('body boom'); return [accumulator, true];", f"{PREFIX}TypeError: body boom"),
        ("(acc, ev) => ev.nope.deeper", f"{PREFIX}Error in stream response function: TypeError: cannot read "
                                        "property 'deeper' of undefined"),
        ("async (acc, ev) => { throw 'plain'; }", f"{PREFIX}Error in stream response function: plain"),
        ("(acc, ev) => { const a = {}; a.a = a; return [a, true]; }",
         f"{PREFIX}Error in stream response function: TypeError: circular reference"),
    ],
)
def test_handler_errors_keep_their_texts(handler: str, message: str) -> None:
    err = run(handler, ["f"]).error
    assert isinstance(err, TransformError) and str(err) == message
