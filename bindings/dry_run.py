"""``promptwire call --dry-run``: the request exactly as the core would send it, sent nowhere.

No request-building logic lives here: the core's ``Call`` is driven as the
real driver drives it, except that ``Open`` is answered with a pretend
``Opened`` (no socket), until the call's first ``Write``: those bytes *are*
the request. For WebSocket the handshake is answered in memory by a wsproto
server, so the call goes on to write its first message, which is decoded
the same way. A pre-step that needs the network (an OAuth token fetch, a
session endpoint) is shown as its own request and the dry run stops there:
the real request depends on its answer. Secrets (credential-named headers,
query parameters and JSON fields, secret-looking values, and the values of
secret-named environment variables) are replaced by ``[REDACTED]`` everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.errors import ConfigError
from sansio_core.redaction import REDACTED, is_secret_name, sanitize
from sansio_core.timebase import Instant
from sansio_core.ws.url import redact_url

from . import jsontext
from .cli_args import UsageError, parse_vars

_SECRET_ENV = re.compile(r"(token|key|secret|password|passwd|pwd|auth|credential|signature)", re.I)
_MAX_STEPS = 10_000


def _now() -> Instant:
    return Instant(time.monotonic(), time.time())


def _secrets_from_env(env: dict[str, str]) -> set[str]:
    return {v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= 4}


def _json_secrets(original: Any, cleaned: Any, found: set[str]) -> None:
    """Strings present in ``original`` where ``sanitize`` put ``[REDACTED]``."""
    if isinstance(original, dict) and isinstance(cleaned, dict):
        for k, v in original.items():
            _json_secrets(v, cleaned.get(k), found)
    elif isinstance(original, list) and isinstance(cleaned, list):
        for a, b in zip(original, cleaned, strict=False):
            _json_secrets(a, b, found)
    elif cleaned == REDACTED and original != REDACTED:
        if isinstance(original, str):
            found.add(original)
        elif original is not None and not isinstance(original, (dict, list)):
            found.add(json.dumps(original))
        else:
            found.add(json.dumps(original, separators=(",", ":")))


def _redact(text: str, secrets: set[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            text = text.replace(s, REDACTED)
    return text


def decode_http(data: bytes, scheme: str, host: str, port: int, env_secrets: set[str]) -> dict[str, Any]:
    """One HTTP/1.1 request's bytes as {method, url, headers, body, raw}, secrets redacted."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
    secrets = set(env_secrets)
    for name, value in headers:
        if is_secret_name(name) or sanitize(value) == REDACTED:
            secrets.add(value)
            scheme_word, _, credential = value.partition(" ")
            if credential and scheme_word.lower() in ("bearer", "basic", "token", "digest"):
                secrets.add(credential)
    default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    origin = f"{scheme}://{host}" + ("" if port == default_port else f":{port}")
    url = origin + target if target.startswith("/") else target
    redacted_url = redact_url(url)
    if redacted_url != url:  # collect the query values redact_url hid
        for a, b in zip(url.split("?", 1)[-1].split("&"), redacted_url.split("?", 1)[-1].split("&"), strict=False):
            if a != b and "=" in a:
                secrets.add(a.split("=", 1)[1])
    body_text = body.decode("utf-8", "replace")
    shown_body: Any = body_text
    try:
        parsed = json.loads(body_text) if body_text.strip() else None
    except ValueError:
        parsed = None
    if parsed is not None:
        cleaned = sanitize(parsed)
        _json_secrets(parsed, cleaned, secrets)
    raw_text = data.decode("utf-8", "backslashreplace")
    if parsed is not None:
        shown_body = json.loads(_redact(json.dumps(parsed, ensure_ascii=False), secrets))
    else:
        shown_body = _redact(body_text, secrets)
    return {
        "method": method,
        "url": _redact(redacted_url, secrets),
        "headers": [[n, REDACTED if (is_secret_name(n) or v in secrets) else _redact(v, secrets)] for n, v in headers],
        "body": shown_body if body else None,
        "raw": _redact(raw_text, secrets),
        "rawBytes": len(data),
    }


def _network_pre_steps(entry: Any) -> list[str]:
    if entry.kind != "http":
        return []
    from sansio_core.config.http import OAuthAuth

    steps = []
    cfg = entry.http
    if isinstance(cfg.auth, OAuthAuth):
        steps.append("OAuth token request")
    if cfg.session is not None:
        steps.append("session endpoint request")
    return steps


def dry_run(config: str, provider: str | None, prompt: str, vars_: dict[str, Any],
            env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the call and capture what it would write first; nothing leaves the process."""
    from .building import build_core_target, select_entry
    from .loader import read_document

    env = dict(os.environ if env is None else env)
    doc = read_document(config)
    entry = select_entry(doc, provider)
    core = build_core_target(entry, Path(config).resolve().parent, env)
    call = core.new_call(prompt, vars_, None, now=_now(), seed=random.SystemRandom().getrandbits(64))
    env_secrets = _secrets_from_env(env)
    pending_steps = _network_pre_steps(entry)
    opens: dict[int, A.Open] = {}
    result: dict[str, Any] = {"kind": entry.kind, "provider": entry.label or redact_url(entry.id), "sent": False}
    ws_server: Any = None
    init_sends, first_wait = _init_plan(entry)
    for _ in range(_MAX_STEPS):
        action = call.next_action()
        if isinstance(action, A.Fail):
            raise action.error
        if isinstance(action, A.Complete):
            raise ConfigError("the call completed without writing a request")  # pragma: no cover
        if isinstance(action, (A.Emit, A.Release, A.Close)):
            continue
        if isinstance(action, A.Open):
            opens[action.conn] = action
            call.feed(E.Opened(action.conn, reused=False), _now())
        elif isinstance(action, A.Sleep):
            call.feed(E.Woke(), _now())
        elif isinstance(action, A.Read):
            if ws_server is None:
                raise ConfigError("the call wants to read before it wrote a request")  # pragma: no cover
            if "reply" not in ws_server:
                # An initMessages step waits for the server: what follows depends on its answer.
                result["tls"] = opens[action.conn].tls is not None
                result["note"] = (f"the call now waits for a server message matching "
                                  f"initMessages[{first_wait}].waitFor; the messages after "
                                  "it, the prompt's included, are sent only then and are not shown")
                return result
            call.feed(E.Received(action.conn, ws_server.pop("reply")), _now())
        elif isinstance(action, A.Write):
            op = opens[action.conn]
            if pending_steps:
                req = decode_http(action.data, op.scheme, op.host, op.port, env_secrets)
                req["preStep"] = pending_steps[0]
                req["needsNetwork"] = True
                result["preSteps"] = [req]
                result["note"] = (f"the {pending_steps[0]} needs the network; the target's own request "
                                  "depends on its answer and is not shown")
                return result
            if entry.kind != "websocket":
                result["request"] = decode_http(action.data, op.scheme, op.host, op.port, env_secrets)
                result["tls"] = op.tls is not None
                return result
            if ws_server is None:
                result["handshake"] = decode_http(action.data, op.scheme, op.host, op.port, env_secrets)
                ws_server = _accept_ws(action.data)
                call.feed(E.Written(action.conn), _now())
                continue
            text = _redact(_ws_message(ws_server["conn"], action.data), env_secrets)
            if len(result.setdefault("initMessages", [])) < init_sends:
                result["initMessages"].append(text)
                call.feed(E.Written(action.conn), _now())
                continue
            if not result["initMessages"]:
                del result["initMessages"]
            result["message"] = text
            result["tls"] = op.tls is not None
            return result
    raise ConfigError("the dry run did not reach a request")  # pragma: no cover


def _init_plan(entry: Any) -> tuple[int, int | None]:
    """How many ``initMessages`` are sent, and the index of the first step that waits
    for the server (where the dry run stops)."""
    items = entry.raw_config.get("initMessages") if entry.kind == "websocket" else None
    if not isinstance(items, list):
        return 0, None
    sends = sum(1 for item in items if isinstance(item, str) or (isinstance(item, dict) and item.get("message")))
    waits = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("waitFor")]
    return sends, waits[0] if waits else None


def _accept_ws(handshake: bytes) -> dict[str, Any]:
    """A wsproto server in memory that accepts the handshake (nothing on the network)."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request

    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(handshake)
    reply = b""
    for event in server.events():
        if isinstance(event, Request):
            sub = event.subprotocols[0] if event.subprotocols else None
            reply = server.send(AcceptConnection(subprotocol=sub))
    return {"conn": server, "reply": reply}


def _ws_message(server: Any, frame: bytes) -> str:
    from wsproto.events import BytesMessage, TextMessage

    server.receive_data(frame)
    parts: list[str] = []
    for event in server.events():
        if isinstance(event, TextMessage):
            parts.append(event.data)
        elif isinstance(event, BytesMessage):
            parts.append(f"<{len(event.data)} binary bytes>")
    return "".join(parts)


def _print_request(req: dict[str, Any], out: Any) -> None:
    out.write(f"{req['method']} {req['url']}\n")
    out.write("headers:\n")
    for name, value in req["headers"]:
        out.write(f"  {name}: {value}\n")
    body = req["body"]
    if body is None:
        out.write("body: (none)\n")
    else:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
        out.write("body:\n" + "".join(f"  {line}\n" for line in text.splitlines()))
    out.write(f"raw request ({req['rawBytes']} bytes, secrets redacted):\n")
    for line in req["raw"].split("\r\n"):
        out.write(f"  | {line}\n")


def print_dry_run(result: dict[str, Any], as_json: bool, out: Any = None) -> None:
    out = out or sys.stdout
    if as_json:
        out.write(jsontext.dumps(result) + "\n")
        return
    out.write(f"dry run: nothing was sent ({result['kind']} provider {result['provider']})\n\n")
    for step in result.get("preSteps", []):
        out.write(f"pre-step: {step['preStep']} — needs the network, NOT SENT\n")
        _print_request(step, out)
        out.write(f"\n{result['note']}\n")
    if "request" in result:
        _print_request(result["request"], out)
    if "handshake" in result:
        out.write("WebSocket handshake:\n")
        _print_request(result["handshake"], out)
        for i, text in enumerate(result.get("initMessages", [])):
            out.write(f"\ninit message {i + 1} (after the handshake):\n")
            for line in text.splitlines() or [""]:
                out.write(f"  {line}\n")
        if "message" in result:
            out.write("\nfirst message (after the handshake):\n"
                      if "initMessages" not in result else "\nthe prompt's message:\n")
            for line in result["message"].splitlines() or [""]:
                out.write(f"  {line}\n")
        if "note" in result:
            out.write(f"\n{result['note']}\n")


def cmd_dry_run(args: argparse.Namespace) -> int:

    if args.calls:
        raise UsageError("--dry-run takes one --prompt, not --calls")
    if args.prompt is None:
        raise UsageError("call --dry-run needs --prompt TEXT")
    result = dry_run(args.config, args.provider, args.prompt, parse_vars(args))
    print_dry_run(result, args.json)
    return 0


__all__ = ["cmd_dry_run", "decode_http", "dry_run", "print_dry_run"]
