"""From a config document to a compiled core target: pick the entry, load its files, build.

Shared by the user API (``api``), cassettes (which replay on a twin target),
the dry run, the demo and eval, so that every one of them builds targets the
same way (each thread gets its own QuickJS context).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from sansio_core.config.provider import ProviderEntry, provider_entries
from sansio_core.errors import ConfigError
from sansio_core.targets import CoreTarget, build_target

from .loader import load_sources
from .tls import check_params


def select_entry(doc: Any, provider: str | None = None) -> ProviderEntry:
    """Pick one provider entry (by id or label) out of a config document."""
    entries = provider_entries(doc)
    if not entries:
        raise ConfigError("the config holds no provider entry")
    if provider is None:
        if len(entries) > 1:
            names = ", ".join(e.label or e.id for e in entries)
            raise ConfigError(f"the config holds {len(entries)} providers ({names}); choose one with provider=")
        return entries[0]
    for e in entries:
        if provider in (e.id, e.label):
            return e
    names = ", ".join(e.label or e.id for e in entries)
    raise ConfigError(f"no provider {provider!r} in the config (have: {names})")


def build_core_target(entry: ProviderEntry, base_dir: str | os.PathLike[str] = ".",
                      env: Mapping[str, str] | None = None) -> CoreTarget:
    sources = load_sources(entry, str(base_dir), env)
    # Each thread gets its own JavaScript context (QuickJS is single-threaded).
    target: CoreTarget = build_target(entry, sources, owner=threading.get_ident,
                                      http_codec=os.environ.get("PROMPTWIRE_HTTP_PARSER"))
    if target.tls_params is not None:
        try:
            check_params(target.tls_params)
        except ConfigError as err:
            raise target.secrets.scrub_error(err) from None
    return target


__all__ = ["build_core_target", "select_entry"]
