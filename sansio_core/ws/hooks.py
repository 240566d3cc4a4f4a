"""User code of a WebSocket target (``transformResponse``, ``streamResponse``) and the
JavaScript value rules the flow applies to what that code returns.

Compilation is ``sansio_core.hooks``' one rule for every code option (QuickJS
for JavaScript, callables and ``file://x.py`` for Python), done once per
target. Errors compiling are ``ConfigError`` at load time; errors running are
``TransformError`` with promptfoo's prefix for the option.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol

from .. import hooks
from ..errors import ConfigError
from ..hooks import HookResult
from ..js.engine import UNDEFINED, JsEngine
from ..sources import Sources


class Hook(Protocol):
    """What the flow calls: ``hooks.Hook`` (``call(*args) -> HookResult``)."""

    def call(self, *args: Any) -> HookResult: ...


def is_undefined(value: Any) -> bool:
    """True for JavaScript ``undefined`` (a hook returned nothing, or a member is absent)."""
    return value is UNDEFINED


def truthy(value: Any) -> bool:
    """JavaScript truthiness (``[]`` and ``{}`` are true, ``0``, ``""``, NaN are false)."""
    if value is None or is_undefined(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def js_string(value: Any) -> str:
    """``String(value)`` for the values a hook can return."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if is_undefined(value):
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None or is_undefined(v) else js_string(v) for v in value)
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, dict):
        return "[object Object]"
    return json.dumps(value, default=str)


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
        compiled = hooks.compile_hook(spec, value, sources=sources, js=js)
    except ConfigError as err:
        if err.path == option:
            raise
        # hooks names the option transformResponse; keep the spelling the config used.
        raise ConfigError(err.message.removeprefix(f"{err.path}: "), option) from None
    return compiled


__all__ = ["UNDEFINED", "Hook", "HookResult", "compile_ws_hook", "is_undefined", "js_string", "truthy"]
