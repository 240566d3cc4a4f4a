"""``auth.type: file``: a user function supplies ``{token, expiration}`` before each call.

The function (``file://auth.js[:name]``, default export; ``file://auth.py
[:name]``, default ``get_auth``; a plain path works too) receives the call's
context with ``vars`` and ``prompt`` and returns ``{token: non-empty string,
expiration?: epoch milliseconds | null}`` (spec 14.5). ``token`` and
``expiration`` become vars; unlike ``oauth``, no header is added: the user
places ``{{token}}`` where the API wants it (spec 24 item 12).

Results are cached on the step per (path, context): promptfoo keys its cache
on the serializable context, so different vars get their own token. A token
is reused until it is within the 60 s refresh buffer OAuth uses; one without
an expiration is kept for the life of the target.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..call import CallContext
from ..config.http import FileAuth
from ..config.timeouts import Timeouts
from ..errors import ConfigError, TransformError
from ..hooks import Hook, compile_hook
from ..js.engine import UNDEFINED, JsEngine
from ..limits import MAX_FILE_AUTH_TOKENS, Limits
from ..sources import FILE_PREFIX, Sources
from .prestep import StepFlow, touch_lru

if TYPE_CHECKING:
    from ..js.engine import JsEngine

OPTION = "auth.file"
PREFIX = "Failed to refresh file auth token: "
# promptfoo's TOKEN_REFRESH_BUFFER_MS, shared with OAuth.
REFRESH_BUFFER_MS = 60_000.0


@dataclass(frozen=True, slots=True)
class _Token:
    token: str
    expiration: float | int | None  # epoch ms as returned; None: never expires


def file_ref(path: str) -> str:
    """``auth.path`` as a ``file://`` reference (the loader and the core must agree on it)."""
    path = path.strip()
    return path if path.startswith(FILE_PREFIX) else FILE_PREFIX + path


def _drop(value: Any) -> None:
    """What a value JSON cannot hold becomes (promptfoo serializes the context the same way)."""
    return None


def call_context(vars: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The context the function receives: the call's, with ``vars`` and ``prompt``, as JSON data."""
    prompt = context.get("prompt") or {"raw": vars.get("prompt", ""), "label": vars.get("prompt", "")}
    merged = {**context, "prompt": prompt, "vars": dict(vars)}
    parsed: dict[str, Any] = json.loads(json.dumps(merged, ensure_ascii=False, default=_drop))
    return parsed


class FileAuthStep:
    """The ``PreStep`` for ``auth.type: file``; holds the target's token cache."""

    def __init__(self, hook: Hook, ref: str) -> None:
        self._hook = hook
        self._ref = ref
        self._cache: OrderedDict[str, _Token] = OrderedDict()

    @classmethod
    def compile(cls, auth: FileAuth, sources: Sources, *, js: JsEngine | None = None) -> FileAuthStep:
        """``ConfigError`` when the file is missing, not loaded, or exports no function."""
        ref = file_ref(auth.path)
        if ref == FILE_PREFIX:
            raise ConfigError("auth.path is empty; give the auth file's path", "config.auth.path")
        if js is None:

            js = JsEngine(env=sources.env)
        try:
            hook = compile_hook(OPTION, ref, sources=sources, js=js)
        except ConfigError as err:
            raise ConfigError(err.message, "config.auth.path") from None
        assert hook is not None
        return cls(hook, ref)

    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        """No exchange of its own: call the function when no valid token is cached."""
        del timeouts, limits
        payload = call_context(vars, context)
        key = hashlib.sha256(json.dumps([self._ref, payload], sort_keys=True, ensure_ascii=False)
                             .encode("utf-8")).hexdigest()
        now_ms = ctx.now.wall * 1000.0
        cached = self._cache.get(key)
        if cached is None or not _valid(cached, now_ms):
            cached = self._refresh(payload)
            self._store(key, cached, now_ms)
        else:
            touch_lru(self._cache, key)
        return {"token": cached.token, "expiration": cached.expiration}
        yield  # a generator with nothing to exchange

    def _refresh(self, payload: dict[str, Any]) -> _Token:
        try:
            result = self._hook.call(payload)
        except TransformError as err:
            raise TransformError(err.message if err.message.startswith(PREFIX) else PREFIX + err.message) from None
        if result.is_error:
            raise TransformError(f"{PREFIX}{result.value}")
        return _token(result.value)

    def _store(self, key: str, token: _Token, now_ms: float) -> None:
        for stale in [k for k, t in list(self._cache.items()) if not _valid(t, now_ms)]:
            self._cache.pop(stale, None)
        self._cache[key] = token
        touch_lru(self._cache, key)
        while len(self._cache) > MAX_FILE_AUTH_TOKENS:
            try:
                self._cache.popitem(last=False)
            except KeyError:
                break


def _valid(token: _Token, now_ms: float) -> bool:
    return token.expiration is None or now_ms + REFRESH_BUFFER_MS < token.expiration


def _token(value: Any) -> _Token:
    """Check the function's result: ``{token: non-empty string, expiration?: finite number | null}``."""
    shape = "the auth function must return {token: non-empty string, expiration?: number | null}"
    if not isinstance(value, Mapping):
        raise TransformError(f"{PREFIX}{shape}; it returned {_describe(value)}")
    token = value.get("token")
    if not isinstance(token, str) or not token:
        raise TransformError(f"{PREFIX}{shape}; token is {_describe(token)}")
    expiration = value.get("expiration")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, (int, float))
                                   or not math.isfinite(expiration)):
        raise TransformError(f"{PREFIX}{shape}; expiration is {_describe(expiration)}")
    return _Token(token, expiration)


def _describe(value: Any) -> str:
    """A short description that never quotes a secret-looking value in full."""
    if value is None or value is UNDEFINED:
        return "missing"
    if isinstance(value, str):
        return "an empty string" if not value else f"a string of {len(value)} characters"
    if isinstance(value, Mapping):
        return "an object with keys " + ", ".join(sorted(map(str, value))[:10])
    return f"a {type(value).__name__}"


__all__ = ["OPTION", "PREFIX", "REFRESH_BUFFER_MS", "FileAuthStep", "call_context", "file_ref"]
