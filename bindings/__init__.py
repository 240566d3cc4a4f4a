"""promptwire: call LLM endpoints the way promptfoo's http/ws providers do.

This package (the folder ``bindings/`` in the repository) holds everything
that touches the world: drivers, backends, TLS, files, env, the CLI and the
mock server, over the pure core in ``sansio_core``. The names below are the
public API; everything else is internal and may change.

    import promptwire
    target = promptwire.Target.from_config({"id": "https://...", "config": {...}})
    print(target.call("Hello").output)
"""

from sansio_core._version import __version__
from sansio_core.errors import Cancelled as Cancelled
from sansio_core.errors import ConfigError as ConfigError
from sansio_core.errors import DeadlineExceeded as DeadlineExceeded
from sansio_core.errors import FailureKind as FailureKind
from sansio_core.errors import HttpStatusError as HttpStatusError
from sansio_core.errors import LimitExceeded as LimitExceeded
from sansio_core.errors import LocalError as LocalError
from sansio_core.errors import LocalProtocolError as LocalProtocolError
from sansio_core.errors import PromptwireError as PromptwireError
from sansio_core.errors import RemoteError as RemoteError
from sansio_core.errors import RemoteProtocolError as RemoteProtocolError
from sansio_core.errors import RetriesExhausted as RetriesExhausted
from sansio_core.errors import TemplateError as TemplateError
from sansio_core.errors import TransformError as TransformError
from sansio_core.errors import TransportError as TransportError
from sansio_core.errors import WebSocketClosed as WebSocketClosed
from sansio_core.response import ProviderResponse as ProviderResponse

from .api import AsyncTarget as AsyncTarget
from .api import Target as Target
from .cassette import Cassette as Cassette
from .cassette import CassetteError as CassetteError
from .cassette import use_cassette as use_cassette
from .mock import MockServer as MockServer

__all__ = [
    "AsyncTarget",
    "Cancelled",
    "Cassette",
    "CassetteError",
    "ConfigError",
    "DeadlineExceeded",
    "FailureKind",
    "HttpStatusError",
    "LimitExceeded",
    "LocalError",
    "LocalProtocolError",
    "MockServer",
    "PromptwireError",
    "ProviderResponse",
    "RemoteError",
    "RemoteProtocolError",
    "RetriesExhausted",
    "Target",
    "TemplateError",
    "TransformError",
    "TransportError",
    "WebSocketClosed",
    "use_cassette",
    "__version__",
]
