"""One entry point from a validated provider entry to a target of the right kind."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .config.provider import ProviderEntry
from .http.target import HttpTarget
from .js.engine import JsEngine
from .sources import Sources
from .ws.flow import WsTarget


def build_target(entry: ProviderEntry, sources: Sources, *,
                 owner: Callable[[], Hashable] | None = None) -> Any:
    """An ``HttpTarget`` or ``WsTarget``, compiled once; ``ConfigError`` on a bad config."""
    if entry.kind == "websocket":

        js = JsEngine(env=sources.env, owner=owner)
        return WsTarget.compile(entry.id, entry.raw_config, sources, sources.env, label=entry.label,
                                config_env=entry.env, js=js)

    return HttpTarget.compile(entry, sources, owner=owner)


__all__ = ["build_target"]
