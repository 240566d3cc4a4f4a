"""The promptwire mock server: deterministic LLM-like HTTP and WebSocket endpoints on loopback.

Written on h11 and wsproto over asyncio streams. ``MockServer`` runs it on a
background thread for sync code; ``serve`` runs it on the caller's loop;
``main_mock`` is the ``promptwire mock`` command. docs/mock-server.md lists
every endpoint.
"""

from ._model import RecordedRequest as RecordedRequest
from ._server import MockServer as MockServer
from ._server import NotLoopbackError as NotLoopbackError
from ._server import serve as serve
from .cli import main_mock as main_mock

__all__ = ["MockServer", "NotLoopbackError", "RecordedRequest", "main_mock", "serve"]
