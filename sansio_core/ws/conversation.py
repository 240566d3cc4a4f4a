"""Conversations on one socket (``connectionScope: conversation``) and ``initMessages``.

promptfoo opens a WebSocket per call (ws-provider-spec, WS-107), so a
service that keeps its chat history per connection forgets every turn. With
``connectionScope: conversation`` the calls of one conversation (the
``conversationId`` var, else ``sessionId``) share one socket:

* the binding keeps the socket in its pool under a tag (``Open.keep_tag``)
  and hands it to one call at a time, in arrival order;
* the core keeps the other half, the connection's wsproto state
  (``Conversations``), between the calls;
* a reused socket that the server closed, or that has no state here, is
  closed and a fresh one opened in its place (``Open.replaces`` keeps the
  caller's turn); frames that arrived while it was idle belong to no call and
  are dropped;
* an idle socket is closed (with a close frame) after
  ``conversationIdleTimeoutMs``, or when the target is closed.

``initMessages`` run on every fresh socket, before the prompt's message:
each step optionally waits for a server message that matches ``waitFor``
(a regular expression searched in the message's first ``MAX_WAIT_FOR_TEXT``
characters; other messages are skipped), then sends its ``message`` (a
template, rendered with the call's vars). The server writes the text, so a
pattern with a repetition inside a repetition (exponential backtracking) is
refused when the target is built.
"""

from __future__ import annotations

import re
import re._parser as regex_parser  # type: ignore[import-not-found]  # the stdlib's own parse tree
from collections.abc import Callable, Generator, Mapping
from typing import Any

from .. import actions as A
from .. import events as E
from ..errors import ConfigError, DeadlineExceeded
from ..js.jsvalue import js_string
from ..limits import MAX_WAIT_FOR_TEXT
from .io import WsIo, next_message
from .url import WsUrl

# Sweep forgotten conversations only once this many are kept (amortised).
_SWEEP_AT = 64


class InitStep:
    """One ``initMessages`` entry: wait for a matching message, then send one."""

    __slots__ = ("message", "wait_for", "where")

    def __init__(self, message: Any, wait_for: re.Pattern[str] | None, where: str) -> None:
        self.message = message
        self.wait_for = wait_for
        self.where = where


def compile_init_messages(items: list[Any] | None, compile_template: Callable[[str, str], Any]) -> list[InitStep]:
    """``initMessages`` as steps: a string is a message sent at once; an object has
    ``message`` and/or ``waitFor``. ``ConfigError`` for an invalid regular expression."""
    steps: list[InitStep] = []
    for i, item in enumerate(items or []):
        where = f"initMessages[{i}]"
        if isinstance(item, str):
            steps.append(InitStep(compile_template(item, where), None, where))
            continue
        message = None if item.message is None else compile_template(item.message, f"{where}.message")
        pattern = None
        if item.waitFor is not None:
            try:
                pattern = re.compile(item.waitFor)
            except re.error as exc:
                raise ConfigError(f"invalid regular expression: {exc}", f"{where}.waitFor") from None
            if _nested_repeat(regex_parser.parse(item.waitFor)):
                raise ConfigError("a repetition inside a repetition (like '(a+)+') can take exponential time "
                                  "on a hostile server's message; write it without the nesting",
                                  f"{where}.waitFor")
        steps.append(InitStep(message, pattern, where))
    return steps


_REPEATS = (regex_parser.MAX_REPEAT, regex_parser.MIN_REPEAT, regex_parser.POSSESSIVE_REPEAT)
_GROUPS = (regex_parser.SUBPATTERN, regex_parser.ASSERT, regex_parser.ASSERT_NOT)


def _nested_repeat(items: Any, inside: bool = False) -> bool:
    """Whether an unbounded repetition sits inside another repetition: the shape behind
    catastrophic backtracking, since the server, not the config, writes the text."""
    for op, av in items:
        if op in _REPEATS:
            _, high, sub = av
            if (inside and high == regex_parser.MAXREPEAT) or _nested_repeat(sub, inside or high > 1):
                return True
            continue
        children = av[1] if op is regex_parser.BRANCH else [av[-1]] if op in _GROUPS else []
        if any(_nested_repeat(child, inside) for child in children):
            return True
    return False


def run_init(io: WsIo, pending: list[Any], steps: list[InitStep],
             render: Callable[[Any, str], str]) -> Generator[A.Action, E.Event | None, None]:
    """Send the init messages on a fresh socket, each after its ``waitFor`` matched."""
    for step in steps:
        if step.wait_for is not None:
            try:
                while True:
                    msg = yield from next_message(io, pending)
                    if msg.text is not None and step.wait_for.search(msg.text[:MAX_WAIT_FOR_TEXT]):
                        break
            except DeadlineExceeded as exc:
                raise DeadlineExceeded(f"{exc.message} ({step.where}: no message matched waitFor "
                                       f"{step.wait_for.pattern!r})") from None
        if step.message is not None:
            yield from io.write(io.wire.send_text(render(step.message, step.where)))


def conversation_id(vars: Mapping[str, Any]) -> str | None:
    """The conversation a call belongs to: ``conversationId``, else ``sessionId``; ``None``
    when neither is set (the call then has a socket of its own)."""
    for name in ("conversationId", "sessionId"):
        value = vars.get(name)
        if value is not None and value != "":
            return js_string(value)
    return None


class Conversations:
    """The core's half of the kept sockets: each conversation's wire, by tag.

    A tag names the target (an identity token, so two targets never swap
    sockets), the conversation and the URL (origin and request-target): the
    same conversation id sent to two URLs is two sockets.

    Shared by the threads of a sync binding without a lock: each step is one
    dict operation (atomic in CPython), and a tag is only ever in one call's
    hands (the binding hands its socket to one call at a time).
    """

    __slots__ = ("_token", "_wires", "idle_s")

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._token = object()
        self._wires: dict[tuple[Any, ...], tuple[Any, float]] = {}

    def tag(self, conversation: str, url: WsUrl) -> tuple[Any, ...]:
        return (self._token, conversation, url.scheme, url.host, url.port, url.target)

    def take(self, tag: tuple[Any, ...]) -> Any:
        """The wire kept for ``tag`` (removed: the caller now owns it), or ``None``."""
        kept = self._wires.pop(tag, None)
        return None if kept is None else kept[0]

    def keep(self, tag: tuple[Any, ...], wire: Any, now: float) -> None:
        """Keep ``wire`` for the next call of the conversation; forget long-idle ones."""
        self._wires[tag] = (wire, now)
        if len(self._wires) >= _SWEEP_AT:
            for t, (_, at) in list(self._wires.items()):
                if now - at > self.idle_s:
                    self._wires.pop(t, None)

    def __len__(self) -> int:
        return len(self._wires)


__all__ = ["Conversations", "InitStep", "compile_init_messages", "conversation_id", "run_init"]
