"""The single source of promptwire's version (read by pyproject and the user-agent)."""

__version__ = "0.1.0"
