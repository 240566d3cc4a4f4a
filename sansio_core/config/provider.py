"""Provider entries: which kind of target an id names, and one validated entry per provider.

A promptfoo provider entry is ``{id, config, label, env}``; the id decides the
kind (``http``/``https`` or an http(s) URL; ``ws``/``wss``/``websocket`` or a
ws(s) URL). HTTP configs are validated here, at load time (``config.http``);
WebSocket configs when the target is compiled (``config.ws``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError
from ..redaction import Secrets
from .http import HTTP_IDS, HttpProviderConfig, check_http_config, parse_http_config
from .messages import join_path, type_name, unknown_key_message

Kind = Literal["http", "websocket"]
_ENTRY_KEYS = ("id", "label", "config", "env")
WS_IDS = ("websocket", "ws", "wss")


@dataclass(frozen=True)
class ProviderEntry:
    """One provider of a config. ``config`` is the validated model for HTTP entries only;
    ``raw_config`` is the config mapping as written (WebSocket entries are validated by
    ``ws_config`` from it)."""

    id: str
    kind: Kind
    label: str | None = None
    config: HttpProviderConfig | None = None
    raw_config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] | None = None

    @property
    def http(self) -> HttpProviderConfig:
        """The HTTP config; ``ConfigError`` for a WebSocket entry."""
        if self.config is None:
            raise ConfigError(f"provider {self.id!r} is a {self.kind} target, not an HTTP one", "id")
        return self.config

    @property
    def url_template(self) -> str:
        """``config.url || id``: the (still unrendered) URL of an HTTP target."""
        config = self.config
        return config.url if config is not None and config.url else self.id


def provider_kind(provider_id: str) -> Kind:
    """``http`` for http(s) ids, ``websocket`` for ws(s) ids; ``ConfigError`` otherwise."""
    lowered = provider_id.strip().lower()
    if lowered in HTTP_IDS or lowered.startswith(("http:", "https:")):
        return "http"
    if lowered in WS_IDS or lowered.startswith(("ws:", "wss:", "websocket:")):
        return "websocket"
    raise ConfigError(
        f"cannot identify provider {provider_id!r}: promptwire handles http/https ids (or a URL) "
        "and ws/wss ids (or a ws:// URL)",
        "id",
    )


def is_ws_id(entry_id: str) -> bool:
    """A WebSocket provider id, as the WebSocket provider itself matches it (case-sensitive)."""
    return entry_id in WS_IDS or entry_id.startswith(("ws:", "wss:"))


def parse_provider_entry(raw: Mapping[str, Any] | str, where: str = "") -> ProviderEntry:
    """Validate one provider entry (a mapping, or a bare id string); a ``ConfigError``
    never quotes the entry's secrets (``redaction.Secrets``)."""
    try:
        return _parse_provider_entry(raw, where)
    except ConfigError as err:
        raise _entry_secrets(raw).scrub_error(err) from None


def _entry_secrets(raw: Any) -> Secrets:
    if isinstance(raw, str):
        return Secrets.from_entry(raw, None, None)
    if not isinstance(raw, Mapping):
        return Secrets()
    raw = _unwrap_options_map(raw)
    entry_id, label, config = raw.get("id"), raw.get("label"), raw.get("config")
    env = raw.get("env")
    return Secrets.from_entry(entry_id if isinstance(entry_id, str) else "",
                              label if isinstance(label, str) else None,
                              config if isinstance(config, Mapping) else None,
                              entry_env=env if isinstance(env, Mapping) else None)


def _parse_provider_entry(raw: Mapping[str, Any] | str, where: str) -> ProviderEntry:
    if isinstance(raw, str):
        raw = {"id": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a provider entry must be a mapping or an id string, not {type_name(raw)}", where)
    raw = _unwrap_options_map(raw)
    for key in raw:
        if key not in _ENTRY_KEYS:
            raise ConfigError(unknown_key_message(str(key), _ENTRY_KEYS), join_path(where, str(key)))
    provider_id = raw.get("id")
    if not isinstance(provider_id, str) or not provider_id.strip():
        raise ConfigError("a provider entry needs an `id` string (http, https, a URL, ws or wss)",
                          join_path(where, "id"))
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"expected a string, got {type_name(label)}", join_path(where, "label"))
    config = raw.get("config")
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a mapping, got {type_name(config)}", join_path(where, "config"))
    env = raw.get("env")
    if env is not None and not isinstance(env, Mapping):
        raise ConfigError(f"expected a mapping, got {type_name(env)}", join_path(where, "env"))
    try:
        kind = provider_kind(provider_id)
    except ConfigError as err:
        raise ConfigError(err.message.removeprefix(f"{err.path}: "), join_path(where, "id")) from None
    if kind == "websocket":
        return ProviderEntry(provider_id, kind, label, None, dict(config), env)
    model = parse_http_config(config, join_path(where, "config"))
    check_http_config(provider_id, model, join_path(where, "config"))
    return ProviderEntry(provider_id, kind, label, model, dict(config), env)


def provider_entries(doc: Any) -> list[ProviderEntry]:
    """The provider entries of a loaded document.

    Accepts one entry (mapping or id string), a list of entries, or a promptfoo
    config with ``providers:`` (or ``targets:``, its red-team spelling).
    """
    where = ""
    if isinstance(doc, Mapping) and "id" not in doc:
        for key in ("providers", "targets"):
            if key in doc:
                doc, where = doc[key], key
                break
        else:
            if not _looks_like_options_map(doc):
                raise ConfigError("no provider here: expected an entry with `id`, a list of entries, "
                                  "or a config with `providers:`")
    if doc is None:
        raise ConfigError("no providers configured", where)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ConfigError("no providers configured", where)
    return [
        parse_provider_entry(item, f"{where}[{i}]" if isinstance(doc, list) else where)
        for i, item in enumerate(items)
    ]


def _looks_like_options_map(raw: Mapping[str, Any]) -> bool:
    return len(raw) == 1 and isinstance(next(iter(raw.values())), Mapping) and "id" not in raw


def _unwrap_options_map(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """promptfoo's ``{"<id>": {config: ...}}`` form becomes ``{id: "<id>", config: ...}``."""
    if "id" not in raw and _looks_like_options_map(raw):
        (provider_id, options), = raw.items()
        if isinstance(provider_id, str) and not any(k in _ENTRY_KEYS for k in raw):
            return {"id": provider_id, **options}
    return raw


__all__ = ["WS_IDS", "Kind", "ProviderEntry", "is_ws_id", "parse_provider_entry", "provider_entries", "provider_kind"]
