"""One compile rule for every config option that carries code.

``transformRequest``, ``transformResponse`` (and its deprecated alias
``responseParser``), ``validateStatus``, ``sessionParser``,
``session.responseParser``, the ``auth.type: file`` function (``auth.path``)
and the WebSocket ``transformResponse`` / ``streamResponse`` all accept the same forms, compiled once when the target is
built (``compile_hook``) and called many times (``Hook.call``):

* a JavaScript expression (``json.choices[0].message.content``), an object
  literal with or without parentheses, a function of any form
  (``(a, b) => ...``, ``x => ...``, ``async (...) => ...``, ``function ...``),
  or a statement body containing ``return``; a trailing ``;`` is ignored;
* ``file://path.js[:name]`` (CommonJS or ES module, default or named export);
* ``file://path.py[:name]`` (without ``:name`` the option's default function
  name, see ``PY_DEFAULT_NAMES``) and Python callables in library use;
* for ``sessionParser``, a bare header name (``set-cookie``), the older form;
* for ``transformRequest``, a string with Nunjucks tags is a template.

Errors in the source are ``ConfigError`` at build time, naming the option and
quoting the text. Errors while running are ``TransformError`` carrying
promptfoo's prefix for that option.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ConfigError, JsError, PromptwireError, TransformError
from .js.engine import JSON_FROM_TEXT, UNDEFINED, JsEngine, JsFunction, Json, JsResult
from .js.jsvalue import check_json_depth, js_truthy
from .js.modules import module_function_source
from .js.source_forms import candidates
from .js.stream import JsStream
from .limits import MAX_JSON_DEPTH
from .sources import FILE_PREFIX, Sources, split_file_ref


class CompiledTemplate(Protocol):
    def render(self, vars: Mapping[str, Any]) -> str: ...


class TemplateEngine(Protocol):
    """What hooks need from ``sansio_core.templating.TemplateEngine``."""

    def compile(self, source: str) -> CompiledTemplate: ...


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """How one option binds its arguments and words its errors."""

    name: str
    params: tuple[str, ...]
    runtime_prefix: str  # inline JavaScript failed
    function_prefix: str  # a function (callable or file) failed
    py_default_names: tuple[str, ...]
    header_name_form: bool = False
    template_form: bool = False


SPECS: dict[str, OptionSpec] = {
    "transformRequest": OptionSpec(
        "transformRequest", ("prompt", "vars", "context"),
        "Failed to transform request: ", "Error in request transform function: ",
        ("transform_request", "get_transform"), template_form=True,
    ),
    "transformResponse": OptionSpec(
        "transformResponse", ("json", "text", "context"),
        "Failed to transform response: ", "Failed to transform response: ",
        ("transform_response", "get_transform"),
    ),
    "responseParser": OptionSpec(
        "responseParser", ("json", "text", "context"),
        "Failed to transform response: ", "Failed to transform response: ",
        ("transform_response", "get_transform"),
    ),
    "validateStatus": OptionSpec(
        "validateStatus", ("status",),
        "Status validator failed: ", "Status validator failed: ",
        ("validate_status",),
    ),
    "sessionParser": OptionSpec(
        "sessionParser", ("data",),
        "Session parser failed: ", "Session parser failed: ",
        ("session_parser", "get_session_id", "get_transform"), header_name_form=True,
    ),
    "session.responseParser": OptionSpec(
        "session.responseParser", ("data",),
        "Session endpoint response parser failed: ", "Session endpoint response parser failed: ",
        ("session_parser", "get_session_id", "get_transform"),
    ),
    "auth.file": OptionSpec(
        "auth.path", ("context",),
        "Failed to refresh file auth token: ", "Failed to refresh file auth token: ",
        ("get_auth",),
    ),
    "ws.transformResponse": OptionSpec(
        "transformResponse", ("data", "context"),
        "Failed to process response: ", "Failed to process response: ",
        ("transform_response", "get_transform"),
    ),
    "ws.streamResponse": OptionSpec(
        "streamResponse", ("accumulator", "data", "context"),
        "Error executing streamResponse function: ", "Error in stream response function: ",
        ("stream_response", "get_transform"),
    ),
}

# For the binding's loader: which function a ``file://x.py`` without ``:name``
# means, per option (first name the module defines wins).
PY_DEFAULT_NAMES: dict[str, tuple[str, ...]] = {k: v.py_default_names for k, v in SPECS.items()}

_TEMPLATE_TAG = re.compile(r"\{\{|\{%")
# An HTTP header name with no JavaScript meaning of its own: letters, digits,
# '-' and '_', not a bare name the parser binds or a JS literal.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_NOT_HEADERS = {"data", "process", "undefined", "null", "true", "false", "NaN", "Infinity", "this"}
_MAX_QUOTED = 200


# ``json.a.b[0]["c"]``: a path the hot path evaluates in Python (``Hook.json_path``).
_JSON_PATH = re.compile(r"json(?:\.[A-Za-z_$][\w$]*|\[(?:0|[1-9][0-9]{0,8})\]|\[(['\"])[\w$ -]*\1\])*")
_PATH_STEP = re.compile(r"\.([A-Za-z_$][\w$]*)|\[(0|[1-9][0-9]*)\]|\[['\"]([\w$ -]*)['\"]\]")
# What a plain object inherits: reading these goes to QuickJS.
_INHERITED = frozenset({
    "constructor", "__proto__", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
    "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "toString", "valueOf",
})
_NO_ANSWER = object()


def json_path_steps(source: str) -> tuple[tuple[str, bool], ...] | None:
    """The steps of a ``transformResponse`` that is only a property path on ``json``
    (``(name, is_index)`` each), or ``None`` for anything else."""
    text = source.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not _JSON_PATH.fullmatch(text) or text == "json":
        return None
    steps: list[tuple[str, bool]] = []
    for m in _PATH_STEP.finditer(text, 4):
        name, index, quoted = m.groups()
        steps.append((index, True) if index is not None else (name if name is not None else quoted, False))
    return tuple(steps)


def _quote(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "...")


def has_template_tags(text: str) -> bool:
    return _TEMPLATE_TAG.search(text) is not None


def is_header_name(text: str) -> bool:
    """The older ``sessionParser: 'set-cookie'`` form: a bare header name, no JavaScript.

    A bare word is a ReferenceError as JavaScript anyway, so reading it as a
    header name loses nothing; names the parser binds and JS literals stay JS.
    """
    text = text.strip()
    if not _HEADER_NAME.match(text) or text in _NOT_HEADERS:
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class HookResult:
    """A hook's return value. ``value`` is ``UNDEFINED`` when nothing was returned.

    ``provider_shaped``: an object with an ``output`` or ``error`` key (even
    undefined), i.e. a ProviderResponse. ``is_error``: an ``Error`` was returned.
    """

    value: Any
    provider_shaped: bool = False
    is_error: bool = False


def _py_result(value: Any) -> HookResult:
    if value is None:
        return HookResult(UNDEFINED)
    if isinstance(value, BaseException):
        return HookResult(f"{type(value).__name__}: {value}", is_error=True)
    if isinstance(value, Mapping):
        return HookResult(dict(value), provider_shaped="output" in value or "error" in value)
    return HookResult(value)


def _py_args(args: Sequence[Any]) -> list[Any]:
    """Hook-call arguments as a Python callable receives them (plain JSON values)."""
    out: list[Any] = []
    for i, arg in enumerate(args):
        if arg is JSON_FROM_TEXT:
            out.append(parse_json_or_none(args[i + 1]) or None)
        elif isinstance(arg, Json):
            out.append(json.loads(arg.text))
        elif arg is UNDEFINED:
            out.append(None)
        else:
            out.append(arg)
    return out


def parse_json_or_none(text: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``JSON.parse(text)`` or ``None``: JavaScript's grammar (no NaN/Infinity).

    Raises ``LimitExceeded`` (never ``RecursionError``) for JSON nested deeper
    than ``max_depth``: server data, so a clear error rather than "not JSON".
    """
    if not isinstance(text, str):
        return None
    check_json_depth(text, max_depth, "the response's JSON")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


class Hook:
    """A compiled option. ``form`` says which reading was taken (for docs and tests)."""

    __slots__ = ("_arity", "_engine", "_fn", "_header", "_py", "_template", "form", "json_path", "option", "source",
                 "spec")

    def __init__(self, spec: OptionSpec, form: str, source: str) -> None:
        self.spec = spec
        self.option = spec.name
        self.form = form
        self.source = source
        self._engine: JsEngine | None = None
        self._fn: JsFunction | None = None
        self._py: Callable[..., Any] | None = None
        self._arity: int | None = None
        self._template: CompiledTemplate | None = None
        self._header: str | None = None
        # Set for a JavaScript expression that only reads a path of ``json``: see ``eval_json_path``.
        self.json_path: tuple[tuple[str, bool], ...] | None = None

    def __repr__(self) -> str:
        return f"<Hook {self.option} {self.form} {_quote(self.source)}>"

    @property
    def is_function(self) -> bool:
        """Called as a function (callable, file, function string) rather than inline code."""
        return self.form in ("callable", "file-js", "file-py", "function")

    def _prefix(self) -> str:
        return self.spec.function_prefix if self.is_function else self.spec.runtime_prefix

    @property
    def is_js(self) -> bool:
        """Runs in the target's JavaScript engine (arguments may be ``Json`` text)."""
        return self._fn is not None

    def eval_json_path(self, parsed: Any) -> HookResult | None:
        """``json_path`` over ``parsed`` (the body as ``parse_json_or_none`` gives it)
        with JavaScript's semantics, without entering QuickJS; ``None`` when the
        answer needs JavaScript (a number or object result, a string or array
        property, an inherited name), so the caller runs the hook as usual."""
        assert self.json_path is not None
        value: Any = parsed if js_truthy(parsed) else None  # the prelude's `JSON.parse(text) || null`
        for name, is_index in self.json_path:
            kind = type(value)
            if kind is dict:
                if name in _INHERITED:
                    return None
                value = value.get(name, UNDEFINED)
            elif kind is list:
                if not is_index:
                    return None
                i = int(name)
                value = value[i] if i < len(value) else UNDEFINED
            elif value is None or value is UNDEFINED:
                what = "null" if value is None else "undefined"
                raise TransformError(f"{self._prefix()}TypeError: cannot read property '{name}' of {what}")
            else:
                return None
        kind = type(value)
        if kind is str:
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate: leave it to QuickJS
                    return None
            return HookResult(value)
        if value is None or value is UNDEFINED or kind is bool:
            return HookResult(value)
        return None

    def open_stream(self, context_json: str, initial_json: str) -> HookStream | None:
        """A ``streamResponse`` session for a JavaScript hook (``None`` for the other forms,
        which ``call`` runs per frame): ``context_json`` and the initial accumulator
        ``initial_json`` cross into JavaScript once; see ``js.stream``."""
        if self._engine is None or self._fn is None:
            return None
        try:
            session = JsStream(self._engine, self._fn, context_json, initial_json)
        except JsError as err:
            raise TransformError(f"{self._prefix()}{err.message}") from None
        return HookStream(session, self._prefix())

    def call(self, *args: Any, flags: int = 0) -> HookResult:
        """Run the hook with the option's positional arguments (see ``SPECS``).

        Arguments may be ``Json`` text or ``JSON_FROM_TEXT`` (transformResponse's
        ``json`` parsed from the following ``text``); each form receives plain values.
        """
        if self._engine is not None and self._fn is not None:
            try:
                res: JsResult = self._engine.call(self._fn, *args, flags=flags)
            except JsError as err:
                raise TransformError(f"{self._prefix()}{err.message}") from None
            return HookResult(res.value, res.provider_shaped, res.is_error)
        plain = _py_args(args)
        if self._header is not None:
            data = plain[0] if plain else None
            headers = data.get("headers") if isinstance(data, Mapping) else None
            value = headers.get(self._header) if isinstance(headers, Mapping) else None
            return HookResult(UNDEFINED if value is None else value)
        if self._template is not None:
            prompt, variables = [*plain, None, None][:2]
            scope = dict(variables or {})
            scope["prompt"] = prompt
            try:
                return HookResult(self._template.render(scope))
            except PromptwireError as err:
                raise TransformError(f"{self._prefix()}{err.message}") from None
        assert self._py is not None
        if self._arity is not None:
            plain = plain[: self._arity]
        try:
            return _py_result(self._py(*plain))
        except PromptwireError:
            raise
        except Exception as exc:  # user code: any failure is reported, never swallowed
            raise TransformError(f"{self._prefix()}{type(exc).__name__}: {exc}") from exc


class HookStream:
    """A JavaScript ``streamResponse`` hook's per-call session (``js.stream.JsStream``):
    ``step`` per frame (raises ``JsError``; ``error`` words it as ``Hook.call`` would),
    ``close`` at the end."""

    __slots__ = ("_prefix", "close", "step")

    def __init__(self, session: JsStream, prefix: str) -> None:
        self.step = session.step
        self.close = session.close
        self._prefix = prefix

    def error(self, err: JsError) -> TransformError:
        return TransformError(f"{self._prefix}{err.message}")


def _arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` takes (``None``: any number)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def _py_hook(spec: OptionSpec, fn: Callable[..., Any], form: str, source: str) -> Hook:
    hook = Hook(spec, form, source)
    hook._py = fn
    hook._arity = _arity(fn)
    return hook


def _js_error(spec: OptionSpec, source: str, err: JsError) -> ConfigError:
    if spec.name == "validateStatus":
        return ConfigError(f"Invalid status validator expression: {err.message} in {_quote(source)}", spec.name)
    return ConfigError(f"cannot compile {_quote(source)}: {err.message}", spec.name)


def python_key(option: str, ref: str) -> str:
    """Where a loader files the function for ``ref`` used by ``option`` (a ``SPECS``
    key): one module may serve several options with different default names."""
    return f"{option}|{ref}"


def _compile_file(spec: OptionSpec, option: str, ref: str, sources: Sources, js: JsEngine) -> Hook:
    path, name = split_file_ref(ref)
    if path.lower().endswith(".py"):
        fn = sources.python.get(python_key(option, ref)) or sources.python.get(ref)
        if fn is None:
            raise ConfigError(
                f"{ref} was not loaded (the binding's code loader imports Python transforms "
                "relative to the config directory)", spec.name,
            )
        return _py_hook(spec, fn, "file-py", ref)
    try:
        text = sources.file_text(path)
    except KeyError:
        raise ConfigError(f"{ref}: the file was not loaded (is the path right, relative to "
                          f"{sources.base_dir}?)", spec.name) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{ref}: the file is not UTF-8 text", spec.name) from None
    code = module_function_source(text, name, path, spec.name)
    try:
        fn_handle = js.compile(code, f"{spec.name} ({ref})")
    except JsError as err:
        if "must export a function" in err.message:
            raise ConfigError(
                f"Transform module malformed: {path}{':' + name if name else ''} must export a "
                "function or have a default export as a function", spec.name,
            ) from None
        raise ConfigError(f"{ref}: {err.message}", spec.name) from None
    hook = Hook(spec, "file-js", ref)
    hook._engine, hook._fn = js, fn_handle
    return hook


def compile_hook(
    option: str,
    value: Any,
    *,
    sources: Sources,
    js: JsEngine,
    templates: TemplateEngine | None = None,
) -> Hook | None:
    """Compile ``value`` for ``option`` (a key of ``SPECS``); ``None`` when absent.

    Raises ``ConfigError`` naming the option for anything that cannot run.
    """
    spec = SPECS[option]
    if value is None:
        return None
    if callable(value):
        return _py_hook(spec, value, "callable", getattr(value, "__qualname__", repr(value)))
    if not isinstance(value, str):
        raise ConfigError(
            f"expected a JavaScript string, a file:// reference or a function, got {type(value).__name__}",
            spec.name,
        )
    text = value.strip()
    if not text:
        return None
    if text.startswith(FILE_PREFIX):
        return _compile_file(spec, option, text, sources, js)
    if spec.template_form and has_template_tags(text):
        if templates is None:
            raise ConfigError("a Nunjucks template needs the target's template engine", spec.name)
        hook = Hook(spec, "template", text)
        try:
            hook._template = templates.compile(value)
        except PromptwireError as err:
            raise ConfigError(f"cannot compile template {_quote(text)}: {err.message}", spec.name) from None
        return hook
    if spec.header_name_form and is_header_name(text):
        hook = Hook(spec, "header", text)
        hook._header = text.lower()
        return hook
    readings = [(c.form, c.code) for c in candidates(value, spec.params)]
    try:
        fn_handle, form = js.compile_first(readings, spec.name)
    except JsError as err:
        raise _js_error(spec, value, err) from None
    hook = Hook(spec, form, text)
    hook._engine, hook._fn = js, fn_handle
    if form == "expression" and spec.params[0] == "json":
        hook.json_path = json_path_steps(text)
    return hook


def compile_ws_hook(option: str, value: Any, sources: Sources, js: JsEngine) -> Hook | None:
    """Compile ``transformResponse`` / ``responseParser`` (called with ``data, context``) or
    ``streamResponse`` (``accumulator, data, context``); ``None`` when the option is unset.

    Every form ``sansio_core.hooks`` knows is accepted: expressions, statement
    bodies, any function form, ``file://`` JavaScript or Python, callables.
    promptfoo only evaluates a ``transformResponse`` string as ``return <expr>``
    (ws-provider-spec 6.5); a function string or ``file://`` works here too.
    """
    if value is None or value == "":
        return None
    spec = "ws.streamResponse" if option == "streamResponse" else "ws.transformResponse"
    try:
        compiled = compile_hook(spec, value, sources=sources, js=js)
    except ConfigError as err:
        if err.path == option:
            raise
        # hooks names the option transformResponse; keep the spelling the config used.
        raise ConfigError(err.message.removeprefix(f"{err.path}: "), option) from None
    return compiled


__all__ = [
    "compile_ws_hook",
    "PY_DEFAULT_NAMES",
    "SPECS",
    "CompiledTemplate",
    "Hook",
    "HookResult",
    "HookStream",
    "OptionSpec",
    "TemplateEngine",
    "compile_hook",
    "has_template_tags",
    "is_header_name",
    "json_path_steps",
    "parse_json_or_none",
    "python_key",
]
