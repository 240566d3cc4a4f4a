"""The shared WebSocket conformance cases, run through the core against an in-memory peer.

Each ``ws_*`` case's server script becomes a ``ScriptedWsServer``; the golden
(patched as its expectation says) gives the frames the client must send, the
handshake it must make and the result it must produce. The profile is the
promptwire one from the suite's README: header names lower-cased, client
identity headers ignored, errors judged by kind and ``error_contains``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sansio_core.errors import PromptwireError
from sansio_core.sources import Sources, find_file_refs, split_file_ref
from sansio_core.testing.ws_peer import ScriptedWsServer, run_ws_call
from sansio_core.timebase import Instant
from sansio_core.ws.flow import WsTarget

SUITE = Path("/work/shared/conformance")
CASES = sorted(SUITE.glob("cases/ws_*.yaml")) if SUITE.exists() else []
PORT = 45678
IGNORED = {"user-agent", "sec-websocket-extensions", "sec-websocket-key", "connection", "accept",
           "accept-encoding", "accept-language", "sec-fetch-mode", "x-promptfoo-version"}

pytestmark = pytest.mark.skipif(not CASES, reason="the shared conformance suite is not on this machine")


def _fill(value: Any) -> Any:
    if isinstance(value, str):
        return (value.replace("@@WS_URL@@", f"ws://127.0.0.1:{PORT}").replace("@@PORT@@", str(PORT))
                .replace("@@HOST@@", "127.0.0.1"))
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    return value


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base.get(k), v)
        return out
    return patch


def _path(doc: Any, path: str) -> tuple[Any, Any]:
    tokens: list[Any] = []
    for part in path.replace("]", "").split("."):
        name, *idx = part.split("[")
        tokens.append(name)
        tokens.extend(int(i) for i in idx)
    for tok in tokens[:-1]:
        doc = doc[tok]
    return doc, tokens[-1]


def _patch(view: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    view = copy.deepcopy(view)
    for op in ops:
        if op["op"] == "set":
            parent, key = _path(view, op["path"])
            parent[key] = op["value"]
        elif op["op"] == "set_header":
            headers = view["requests"][op["request"]]["headers"]
            for pair in headers:
                if pair[0].lower() == op["name"].lower():
                    pair[1] = op["value"]
        else:  # pragma: no cover - no other op is used by ws cases
            raise AssertionError(f"unsupported patch op {op}")
    return view


def _server(case: dict[str, Any]) -> ScriptedWsServer:
    route = case["server"]["routes"][0]["websocket"]
    if "reject" in route:
        reject = route["reject"]
        return ScriptedWsServer(reject_status=reject["status"], reject_body=str(reject.get("body", "")).encode())
    before: list[Any] = []
    after: list[Any] = []
    current = before
    for step in route["steps"]:
        (kind, arg), = step.items()
        if kind == "recv":
            current = after
        elif kind == "send_json":
            current.append(("text", json.dumps(arg, separators=(",", ":"), ensure_ascii=False)))
        elif kind == "send_text":
            current.append(("text", arg))
        elif kind == "send_binary_text":
            current.append(("bytes", str(arg).encode()))
        elif kind == "sleep_ms":
            current.append(("sleep", arg / 1000))
        elif kind == "close":
            current.append(("close", arg["code"], arg.get("reason", "")))
        elif kind == "drop":
            current.append(("drop",))
        elif kind == "hang":
            current.append(("hang",))
        else:  # pragma: no cover
            raise AssertionError(f"unknown step {step}")
    return ScriptedWsServer(on_open=before, on_message=after)


def _sources(config: dict[str, Any]) -> Sources:
    files = {}
    for _, ref in find_file_refs(config):
        path, _ = split_file_ref(ref)
        files[path] = (SUITE / "cases" / path).read_bytes()
    return Sources(files=files, base_dir=str(SUITE / "cases"))


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_ws_case(case_path: Path) -> None:
    name = case_path.stem
    case = yaml.safe_load(case_path.read_text())
    golden = json.loads((SUITE / "cases" / f"{name}.golden.json").read_text())
    expectation = yaml.safe_load((SUITE / "expectations" / f"{name}.yaml").read_text())
    if expectation["verdict"] == "skip":
        pytest.skip(expectation["why"])
    if expectation.get("case_patch"):
        case = _merge(case, expectation["case_patch"])
    case = _fill(case)
    view = {"requests": golden["requests"], "calls": [c["result"] for c in golden["calls"]]}
    if expectation["verdict"] == "override":
        view = _patch(view, expectation.get("patch") or [])
    view = _fill(view)

    provider = case["provider"]
    target = WsTarget.compile(provider["id"], provider.get("config") or {}, _sources(provider.get("config") or {}),
                              dict(case.get("env") or {}))
    server = _server(case)
    call = target.new_call(case.get("prompt", ""), case.get("vars") or {}, case.get("context"),
                           now=Instant(0.0, 1_700_000_000.0), seed=1)
    run = run_ws_call(call, server)

    # The result.
    expected = view["calls"][0]
    rules = (expectation.get("calls") or [{}])[0]
    if "thrown" in expected or (isinstance(expected.get("response"), dict) and expected["response"].get("error")):
        if hasattr(run.terminal, "error"):
            message = str(run.error)
            assert isinstance(run.error, PromptwireError)
        else:
            message = str(run.response.get("error"))
            assert run.response.get("error"), f"expected an error, got {run.response}"
        for want in rules.get("error_contains", []):
            options = want if isinstance(want, list) else [want]
            assert any(o.lower() in message.lower() for o in options), (options, message)
    else:
        assert json.loads(json.dumps(run.response)) == expected["response"]

    # The handshake and the frames.
    request = view["requests"][0]
    assert server.request is not None
    assert server.request.target == request["target"]
    want_headers = sorted((k.lower(), v) for k, v in request["headers"] if k.lower() not in IGNORED)
    got = [(k, v) for k, v in server.request_headers if k not in IGNORED]
    got.append(("host", server.request.host))
    assert sorted(got) == want_headers
    frames = request.get("frames") or []
    assert server.client_messages == [f["text"] for f in frames if f["opcode"] == 1]
    closes = [f for f in frames if f["opcode"] == 8]
    if closes:
        assert server.client_close_code == (closes[0]["close_code"] or 1005)

    # Failing "at once": within a second (virtual) of the server's close or drop.
    if (expectation.get("timing") or {}).get("max_exit_after_server_close_ms") is not None:
        assert run.elapsed < 1.0
