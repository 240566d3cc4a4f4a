"""Everything that touches the world: drivers, backends, TLS, files, env, CLI, mock server.

The user API is ``Target`` (blocking) and ``AsyncTarget`` (asyncio or trio).
"""

from .api import AsyncTarget as AsyncTarget
from .api import Target as Target

__all__ = ["AsyncTarget", "Target"]
