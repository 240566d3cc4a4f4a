"""``JsEngine``: one target's QuickJS context, its compiled functions, and the limits.

Why it is shaped like this:

* **Compile once.** ``compile`` evaluates a function's source when the target
  is built (so syntax errors surface then) and keeps the function handle;
  ``call`` only invokes it. The sources are also kept, because a context is
  rebuilt from them after a limit was hit (an interrupted or out-of-memory
  QuickJS heap is not trusted again) or for another owner.
* **One context per owner.** A QuickJS runtime must never be entered by two
  threads at once, and the core may not import ``threading``. The binding
  passes ``owner`` (``threading.get_ident`` in practice); each distinct owner
  lazily gets its own context built from the same sources. Without it the
  engine has a single owner and is not thread-safe, like ``Call``.
* **Values cross as JSON.** Strings and numbers go straight through; objects
  go as JSON text that the JS side parses (cheaper than building objects
  across the boundary); results come back as primitives or one JSON holder
  made *inside* the call (so getters, ``toJSON`` and the ``toString`` of a
  thrown object run under the call's limits; Python never touches a live
  JavaScript object).
  ``UNDEFINED`` is the Python face of JavaScript ``undefined`` (absent), distinct
  from ``None`` (``null``).
* **State that spans calls stays inside.** A WebSocket ``streamResponse``
  keeps its accumulator in the context between frames (``js.stream``); the
  engine only hands out the owner's context and its session functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import quickjs

from ..errors import JsError, LimitExceeded
from ..limits import MAX_JSON_DEPTH
from .jsvalue import UNDEFINED, check_json_depth, escape_surrogates, has_surrogate
from .limits import JsLimits
from .prelude import PRELUDE

if TYPE_CHECKING:
    from ..timebase import Instant


@dataclass(frozen=True, slots=True)
class Json:
    """An argument already serialised as JSON text (parsed on the JS side)."""

    text: str


@dataclass(frozen=True, slots=True)
class JsonFromText:
    """Marks the first argument as ``JSON.parse(<second argument>) || null``, computed in JS.

    transformResponse's ``json`` is derived from ``text`` this way so the body
    crosses the boundary once, as a string.
    """


JSON_FROM_TEXT: Final = JsonFromText()

# Extra call flag: set ``context.response.data`` (third argument) to the parsed
# body, or the text when it is not JSON, inside JS, so the body is not sent twice.
FLAG_RESPONSE_DATA: Final = 32
# Extra call flag: the third argument is JSON text parsed only when user code
# first reads ``context`` (most transforms never do).
FLAG_LAZY_CONTEXT: Final = 64


@dataclass(frozen=True, slots=True)
class JsResult:
    """What a call returned: ``value`` (``UNDEFINED`` when absent) and whether it
    was an object with an ``output`` or ``error`` key (a ProviderResponse shape)."""

    value: Any
    provider_shaped: bool = False
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class JsFunction:
    """A handle on a function compiled into an engine."""

    index: int
    label: str


_FATAL = {"timeout", "memory", "stack"}

# Prefix of a result that is a JSON holder made inside the sandbox (prelude
# ``pack``); any other string is the result itself.
_MARK: Final = "\ufdd0pw:"

# Strings cross into QuickJS as C strings in UTF-8: a NUL would cut them short
# and a lone surrogate (a server's JSON can carry "\ud83d") crashes the
# extension. Such strings cross as JSON text with escapes instead.
def _unsafe_text(text: str) -> bool:
    return "\x00" in text or has_surrogate(text)


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line or text.strip()


def _integral(value: Any) -> Any:
    """QuickJS hands integral doubles over as float; JSON (and JS) print them as integers."""
    if type(value) is float and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


class JsEngine:
    """The JavaScript side of one target. See the module docstring for the rules."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        limits: JsLimits | None = None,
        owner: Callable[[], Hashable] | None = None,
    ) -> None:
        self.limits = limits or JsLimits()
        self._env_json = json.dumps(dict(env or {}))  # ASCII: undecodable env bytes are lone surrogates
        self._owner = owner
        self._sources: list[tuple[str, str]] = []
        self._contexts: dict[Hashable, tuple[Any, list[Any]]] = {}
        self._log: list[str] = []
        # The wall clock (ms) user code sees, per owner, and what each context was last told.
        self._clock: dict[Hashable, float] = {}
        self._pushed: dict[Hashable, float] = {}
        # streamResponse sessions (js/stream.py): per owner, its context and the
        # session functions; and sessions closed from a thread that was not their owner's.
        self._stream_fns: dict[Hashable, tuple[Any, Any, Any]] = {}
        self._orphans: dict[Hashable, list[tuple[Any, int]]] = {}

    # -- contexts ---------------------------------------------------------------------

    @property
    def debug_log(self) -> list[str]:
        """``console.*`` lines so far (``[level] text``), oldest first, bounded.

        Read lazily from the calling owner's context so logging costs nothing
        per call. Another owner's context is never entered from here: a
        QuickJS runtime used by two threads at once crashes the process.
        """
        self._collect_own()
        return list(self._log)

    def clear_debug_log(self) -> None:
        self._collect_own()
        self._log.clear()

    def _collect_own(self) -> None:
        entry = self._contexts.get(self._owner() if self._owner is not None else None)
        if entry is not None:
            self._collect(entry[0])

    def _collect(self, ctx: Any) -> None:
        try:
            lines = json.loads(ctx.eval("__pw_drain_log()"))
        except quickjs.JSException:
            return
        self._log.extend(lines)
        overflow = len(self._log) - self.limits.debug_log_lines
        if overflow > 0:
            del self._log[:overflow]

    def _new_context(self) -> Any:
        ctx = quickjs.Context()
        ctx.set_memory_limit(self.limits.memory)
        ctx.set_time_limit(self.limits.time_s)
        ctx.set_max_stack_size(self.limits.stack)
        ctx.set("__pw_env_json", self._env_json)
        ctx.set("__pw_log_lines", self.limits.debug_log_lines)
        ctx.set("__pw_log_chars", self.limits.debug_log_line_chars)
        ctx.eval(PRELUDE)
        return ctx

    def _context(self) -> tuple[Any, list[Any]]:
        key = self._owner() if self._owner is not None else None
        entry = self._contexts.get(key)
        if entry is None:
            self._pushed.pop(key, None)
            ctx = self._new_context()
            handles = [self._define(ctx, i, code, label) for i, (code, label) in enumerate(self._sources)]
            entry = (ctx, handles)
            if len(self._contexts) >= self.limits.max_contexts:
                self._evict_other(key)
            self._contexts[key] = entry
        return entry

    def _evict_other(self, key: Hashable) -> None:
        """Forget the oldest other owner's context without entering it (its owner
        may be running it right now; it keeps its reference and rebuilds later)."""
        for other in list(self._contexts):
            if other != key:
                self._contexts.pop(other, None)
                self._stream_fns.pop(other, None)
                return

    def owner_key(self) -> Hashable:
        """Who is calling (the binding's ``owner()``; ``None`` without one)."""
        return self._owner() if self._owner is not None else None

    def _discard(self, ctx: Any = None) -> None:
        """Forget the calling owner's context (only if it is ``ctx``, when given)."""
        key = self.owner_key()
        entry = self._contexts.get(key)
        if entry is not None and (ctx is None or entry[0] is ctx):
            del self._contexts[key]
            self._stream_fns.pop(key, None)
            self._collect(entry[0])

    def stream_functions(self) -> tuple[Any, Any, Any]:
        """The calling owner's context and its ``__pw_stream_open`` / ``__pw_stream_step``."""
        ctx, _ = self._context()
        key = self.owner_key()
        cached = self._stream_fns.get(key)
        if cached is None or cached[0] is not ctx:
            cached = (ctx, ctx.get("__pw_stream_open"), ctx.get("__pw_stream_step"))
            self._stream_fns[key] = cached
        return cached

    def orphan(self, key: Hashable, step: Any, token: int) -> None:
        """A session ``key`` owns, to end when ``key`` next opens one (never entered from here)."""
        self._orphans.setdefault(key, []).append((step, token))

    def take_orphans(self) -> list[tuple[Any, int]]:
        return self._orphans.pop(self.owner_key(), None) or []

    @staticmethod
    def _define(ctx: Any, index: int, code: str, label: str) -> Any:
        # A thunk, so what the code throws while it is evaluated is turned into
        # text inside the sandbox (see ``describe`` in the prelude).
        return ctx.eval(f"__pw_define({index}, function () {{ return ({code}\n); }}, {json.dumps(label)})")

    # -- errors -----------------------------------------------------------------------

    def _error(self, exc: Exception) -> JsError:
        text = str(exc)
        head = _first_line(text)
        if "interrupted" in head:
            return JsError(
                f"JavaScript ran longer than the time limit ({self.limits.time_s:g} s of CPU)", "timeout"
            )
        if "out of memory" in head or head in ("", "null"):
            mib = self.limits.memory / (1024 * 1024)
            return JsError(f"JavaScript exceeded the memory limit ({mib:g} MiB)", "memory")
        if "stack overflow" in head or isinstance(exc, quickjs.StackOverflow):
            return JsError("JavaScript exceeded the stack limit (recursion too deep)", "stack")
        if head.startswith("SyntaxError"):
            return JsError(head, "syntax")
        return JsError(head)

    def _fail(self, exc: Exception, ctx: Any = None) -> JsError:
        err = self._error(exc)
        if err.kind in _FATAL:
            self._discard(ctx)
        return err

    # -- compiling --------------------------------------------------------------------

    def compile(self, code: str, label: str) -> JsFunction:
        """Evaluate ``code`` (an expression giving a function) once and keep it.

        Raises ``JsError`` (kind ``syntax`` for a parse error) when it does not
        compile, throws while evaluating, or yields something that is not a function.
        """
        if _unsafe_text(code) or _unsafe_text(label):
            raise JsError("SyntaxError: the source holds a NUL or a lone surrogate (not UTF-8 text)", "syntax")
        ctx, handles = self._context()
        index = len(self._sources)
        try:
            handle = self._define(ctx, index, code, label)
        except quickjs.JSException as exc:
            raise self._fail(exc) from None
        self._sources.append((code, label))
        handles.append(handle)
        # Other owners' contexts learn the new function when they are next used.
        for key in list(self._contexts):
            entry = self._contexts.get(key)
            if entry is not None and entry[1] is not handles:
                self._contexts.pop(key, None)
                self._stream_fns.pop(key, None)
        return JsFunction(index, label)

    def compile_first(self, codes: Sequence[tuple[str, str]], label: str) -> tuple[JsFunction, str]:
        """Compile the first of several readings (``(form, code)``) that works.

        Returns the function and the form used. When none works, raises the
        error of the most specific reading (see ``source_forms.candidates``).
        """
        errors: list[tuple[str, JsError]] = []
        for form, code in codes:
            try:
                return self.compile(code, label), form
            except JsError as err:
                if err.kind in _FATAL:
                    raise
                errors.append((form, err))
        forms = [form for form, _ in errors]
        pick = "function" if "function" in forms else ("body" if "body" in forms else forms[0])
        raise dict(errors)[pick]

    # -- calling ----------------------------------------------------------------------

    def set_clock(self, now: Instant) -> None:
        """The time ``Date.now()`` / ``new Date()`` return in this owner's next calls.

        ``Call`` hands in its ``now`` before each step of its flow (``CallContext.on_resume``),
        so JavaScript sees the call's clock, and a replayed call the recorded one.
        """
        self._clock[self._owner() if self._owner is not None else None] = now.wall * 1000.0

    def call(self, fn: JsFunction, *args: Any, flags: int = 0) -> JsResult:
        """Call a compiled function. Arguments: str/int/float/bool/None, ``Json``,
        ``JSON_FROM_TEXT`` (first position only), or JSON-compatible containers."""
        ctx, handles = self._context()
        handle = handles[fn.index]
        key = self._owner() if self._owner is not None else None
        clock = self._clock.get(key)
        if clock is not None and self._pushed.get(key) != clock:
            ctx.set("__pw_clock_ms", clock)
            self._pushed[key] = clock
        wire: list[Any] = []
        for i, arg in enumerate(args):
            if type(arg) is str:
                if _unsafe_text(arg):
                    flags |= 1 << i
                    arg = json.dumps(arg)
                wire.append(arg)
            elif isinstance(arg, Json):
                if not (i == 2 and flags & FLAG_LAZY_CONTEXT):
                    flags |= 1 << i
                wire.append(escape_surrogates(arg.text))
            elif arg is JSON_FROM_TEXT:
                if i + 1 < len(args) and isinstance(args[i + 1], str):
                    check_json_depth(args[i + 1], what="the response's JSON")
                flags |= 16
                wire.append(None)
            elif isinstance(arg, (dict, list, tuple)):
                flags |= 1 << i
                wire.append(json.dumps(arg, separators=(",", ":")))  # ASCII: see _unsafe_text
            elif arg is UNDEFINED:
                wire.append(None)
            else:
                wire.append(arg)
        try:
            raw = handle(flags, *wire)
            if type(raw) is str and raw.startswith(_MARK):
                return self._holder(ctx, raw)
            return JsResult(_integral(raw))
        except quickjs.JSException as exc:
            raise self._fail(exc) from None
        except quickjs.StackOverflow as exc:  # pragma: no cover - QuickJS reports it as JSException
            raise self._fail(exc) from None

    @staticmethod
    def _load(raw: str) -> Any:
        """A holder's JSON (one extra level for the holder itself)."""
        text = raw[len(_MARK):]
        try:
            check_json_depth(text, MAX_JSON_DEPTH + 1)
        except LimitExceeded:
            raise JsError(f"the result is nested deeper than {MAX_JSON_DEPTH} levels") from None
        return json.loads(text)

    def push_clock(self, ctx: Any, key: Hashable) -> None:
        """Tell ``ctx`` (``key``'s context, or one it left) the clock ``set_clock`` gave ``key``."""
        clock = self._clock.get(key)
        if clock is None:
            return
        entry = self._contexts.get(key)
        if entry is None or entry[0] is not ctx:
            ctx.set("__pw_clock_ms", clock)  # a context the owner has left: no record kept
        elif self._pushed.get(key) != clock:
            ctx.set("__pw_clock_ms", clock)
            self._pushed[key] = clock

    def settled(self, ctx: Any) -> Any:
        """Run ``ctx``'s pending jobs after a call returned a promise holder; what the
        promise settled to, as the call would have returned it (raises ``JsError``)."""
        jobs = 0
        while ctx.execute_pending_job():
            jobs += 1
            if jobs > self.limits.max_pending_jobs:
                self._discard(ctx)
                raise JsError("JavaScript promise did not settle within the job limit", "timeout")
        settled = ctx.eval("__pw_settled()")
        if type(settled) is str and settled.startswith(_MARK):
            kind = self._load(settled)["k"]
            if kind == "n":
                raise JsError("the transform returned a promise that never settled")
            if kind == "p":
                raise JsError("the transform's promise resolved to another pending promise")
        return settled

    def _holder(self, ctx: Any, raw: str) -> JsResult:
        holder = self._load(raw)
        kind = holder["k"]
        if kind == "p":
            settled = self.settled(ctx)
            if not (type(settled) is str and settled.startswith(_MARK)):
                return JsResult(_integral(settled))
            holder = self._load(settled)
            kind = holder["k"]
        if kind == "u":
            return JsResult(UNDEFINED)
        if kind == "e":
            return JsResult(holder["v"], is_error=True)
        return JsResult(holder.get("v", UNDEFINED), provider_shaped=bool(holder.get("p")))


__all__ = ["FLAG_LAZY_CONTEXT", "FLAG_RESPONSE_DATA", "JSON_FROM_TEXT", "UNDEFINED", "Json", "JsEngine", "JsFunction", "JsResult"]
