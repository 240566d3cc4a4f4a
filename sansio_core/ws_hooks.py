"""User code of a WebSocket target: ``transformResponse`` and ``streamResponse``.

The flow only needs "a thing it can call": ``Hook``. A Python callable is a
hook as is; a ``file://module.py:fn`` reference is the callable the binding
imported; JavaScript strings and ``file://*.js`` modules are compiled by
``sansio_core.hooks`` (QuickJS), once per target. Errors raised *inside* a
hook are wrapped by the flow with promptfoo's prefixes; errors compiling
one are ``ConfigError`` at load time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ConfigError
from .sources import FILE_PREFIX, Sources


class Hook(Protocol):
    def __call__(self, *args: Any) -> Any: ...


class _Undefined:
    """JavaScript's ``undefined`` when no hooks module supplies its own marker."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


def is_undefined(value: Any) -> bool:
    """True for JavaScript ``undefined`` as any hook implementation represents it."""
    if value is UNDEFINED:
        return True
    try:
        from . import hooks
    except ImportError:  # pragma: no cover - hooks is part of the package
        return False
    marker = getattr(hooks, "UNDEFINED", None)
    return marker is not None and value is marker


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


def compile_hook(option: str, value: Any, sources: Sources) -> Hook | None:
    """Turn a config value into a callable, or ``None`` when the option is unset.

    ``option`` is ``transformResponse`` / ``responseParser`` (called with
    ``data``) or ``streamResponse`` (called with ``accumulator, data,
    context``); the hooks module binds the parameter names accordingly.
    """
    if value is None or value == "":
        return None
    if callable(value):
        fn: Callable[..., Any] = value
        return fn
    if not isinstance(value, str):  # pragma: no cover - ws_config validated the type
        raise ConfigError("expected JavaScript source, a file:// reference or a callable", option)
    if value.startswith(FILE_PREFIX) and value in sources.python:
        return sources.python[value]
    try:
        from . import hooks
    except ImportError:
        raise ConfigError(
            "JavaScript code options need sansio_core.hooks, which is not installed; pass a Python callable",
            option,
        ) from None
    compiled: Hook = hooks.compile_ws_hook(option, value, sources)
    return compiled


__all__ = ["UNDEFINED", "Hook", "compile_hook", "is_undefined", "js_string", "truthy"]
