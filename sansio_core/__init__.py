"""promptwire's Sans-IO core: configuration, requests, responses, decisions. No I/O.

Build a target with ``targets.build_target(entry, sources)``, start a call with
``target.new_call(prompt, vars, context, now=Instant(...), seed=...)``, then
drive it: ``call.next_action()`` / ``call.feed(event, now)`` (see
docs/architecture.md for the vocabulary).
"""

from ._version import __version__
from .call import Call as Call
from .call import CallContext as CallContext
from .errors import PromptwireError as PromptwireError
from .response import ProviderResponse as ProviderResponse
from .timebase import Instant as Instant

__all__ = ["Call", "CallContext", "Instant", "PromptwireError", "ProviderResponse", "__version__"]
