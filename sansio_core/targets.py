"""One entry point from a validated provider entry to a target of the right kind."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from .actions import TlsParams
from .call import Call
from .config.provider import ProviderEntry
from .errors import PromptwireError
from .http.target import HttpTarget
from .js.engine import JsEngine
from .ratelimit import RateLimiter
from .redaction import Secrets
from .sources import Sources
from .timebase import Instant
from .ws.flow import WsTarget


class CoreTarget(Protocol):
    """What every compiled target offers a binding: a label, its secrets, its TLS
    settings (checked by the binding when it builds) and a ``Call`` per prompt."""

    label: str
    secrets: Secrets
    rate_limiter: RateLimiter | None  # shared by every call of the target; None without a limit

    @property
    def tls_params(self) -> TlsParams | None: ...

    def new_call(self, prompt: str, vars: Mapping[str, Any], context: Mapping[str, Any] | None, *,
                 now: Instant, seed: int, timeout_ms: float | None = None) -> Call: ...


def build_target(entry: ProviderEntry, sources: Sources, *,
                 owner: Callable[[], Hashable] | None = None, http_codec: str | None = None) -> CoreTarget:
    """An ``HttpTarget`` or ``WsTarget``, compiled once; ``ConfigError`` on a bad config
    (its message scrubbed of the entry's secrets, like every later message).

    ``http_codec``: ``h11``, ``httptools`` or ``auto``/None (the binding reads
    ``PROMPTWIRE_HTTP_PARSER``)."""
    secrets = Secrets.from_entry(entry.id, entry.label, entry.raw_config, sources.env, entry.env)
    try:
        if entry.kind == "websocket":
            js = JsEngine(env=sources.env, owner=owner)
            return WsTarget.compile(entry.id, entry.raw_config, sources, sources.env, label=entry.label,
                                    config_env=entry.env, js=js, secrets=secrets)
        return HttpTarget.compile(entry, sources, owner=owner, secrets=secrets, http_codec=http_codec)
    except PromptwireError as err:
        raise secrets.scrub_error(err) from None


__all__ = ["CoreTarget", "build_target"]
