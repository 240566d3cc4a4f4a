"""Query-parameter parsing with caps: a bad value is a 400, never a crash."""

from __future__ import annotations

from collections.abc import Sequence


class BadParam(ValueError):
    """A query parameter is malformed or out of range; the server answers 400."""


class Query:
    """The request's query as ordered pairs, with typed, capped accessors."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The last value given for ``name`` (later values win, like most servers)."""
        found = default
        for key, value in self.pairs:
            if key == name:
                found = value
        return found

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.pairs)

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadParam(f"query parameter {name}={raw!r} is not an integer")
        if not lo <= value <= hi:
            raise BadParam(f"query parameter {name}={value} is outside {lo}..{hi}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        return raw.lower() not in ("0", "false", "no", "off")

    def seconds(self, name: str, default_ms: int, max_ms: int) -> float:
        """A ``*_ms`` parameter as seconds, capped so no request can hang the server."""
        return self.integer(name, default_ms, 0, max_ms) / 1000.0

    def headers(self, name: str = "header") -> list[tuple[str, str]]:
        """Repeated ``header=Name:Value`` parameters, for extra response headers."""
        out = []
        for raw in self.get_all(name):
            key, sep, value = raw.partition(":")
            if not sep or not key.strip():
                raise BadParam(f"query parameter {name}={raw!r} must look like Name:Value")
            out.append((key.strip(), value.strip()))
        return out
