"""promptwire's Sans-IO core: configuration, requests, responses, decisions. No I/O."""

from ._version import __version__

__all__ = ["__version__"]
