"""One entry point from a validated provider entry to a target of the right kind."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from .call import Call
from .config.provider import ProviderEntry
from .http.target import HttpTarget
from .js.engine import JsEngine
from .sources import Sources
from .timebase import Instant
from .ws.flow import WsTarget


class CoreTarget(Protocol):
    """What every compiled target offers a binding: a label and a ``Call`` per prompt."""

    label: str

    def new_call(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any] | None, *,
                 now: Instant, seed: int, timeout_ms: float | None = None) -> Call: ...


def build_target(entry: ProviderEntry, sources: Sources, *,
                 owner: Callable[[], Hashable] | None = None, http_codec: str | None = None) -> CoreTarget:
    """An ``HttpTarget`` or ``WsTarget``, compiled once; ``ConfigError`` on a bad config.

    ``http_codec``: ``h11``, ``httptools`` or ``auto``/None (the binding reads
    ``PROMPTWIRE_HTTP_PARSER``)."""
    if entry.kind == "websocket":

        js = JsEngine(env=sources.env, owner=owner)
        return WsTarget.compile(entry.id, entry.raw_config, sources, sources.env, label=entry.label,
                                config_env=entry.env, js=js)

    return HttpTarget.compile(entry, sources, owner=owner, http_codec=http_codec)


__all__ = ["CoreTarget", "build_target"]
