"""promptwire's Sans-IO core: configuration, requests, responses, decisions. No I/O.

Parse a provider entry (``parse_provider_entry`` / ``provider_entries``), build a
target with ``build_target(entry, sources)``, start a call with
``target.new_call(prompt, vars, context, now=Instant(...), seed=...)``, then
drive it: ``call.next_action()`` / ``call.feed(event, now)`` (see
docs/architecture.md for the vocabulary, and ``sansio_core.testing`` for an
in-memory driver).
"""

from ._version import __version__
from .call import Call as Call
from .call import CallContext as CallContext
from .call import CallState as CallState
from .config.provider import ProviderEntry as ProviderEntry
from .config.provider import parse_provider_entry as parse_provider_entry
from .config.provider import provider_entries as provider_entries
from .errors import PromptwireError as PromptwireError
from .response import ProviderResponse as ProviderResponse
from .sources import Sources as Sources
from .targets import CoreTarget as CoreTarget
from .targets import build_target as build_target
from .timebase import Instant as Instant

__all__ = [
    "Call",
    "CallContext",
    "CallState",
    "CoreTarget",
    "Instant",
    "PromptwireError",
    "ProviderEntry",
    "ProviderResponse",
    "Sources",
    "__version__",
    "build_target",
    "parse_provider_entry",
    "provider_entries",
]
