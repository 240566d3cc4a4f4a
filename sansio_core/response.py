"""``ProviderResponse``: promptfoo's result shape, camelCase keys and all.

It is a ``dict`` because promptfoo's transforms may return any keys and those
keys are spread over the provider's own (``{...ret, ...normalized}``); a dict
keeps that open shape and serialises to the documented JSON directly. The
properties give Python users typed access to the well-known fields.
"""

from __future__ import annotations

from typing import Any


class ProviderResponse(dict[str, Any]):
    """The result of one call: ``output`` or ``error``, plus ``raw``, ``metadata``, ...."""

    # Time to first byte / first token / total (ms) and attempts, set by the
    # HTTP flow. An attribute, not a key: promptfoo's response has no such
    # field, and the JSON stays identical to the reference's.
    timing: dict[str, Any] | None = None

    @property
    def output(self) -> Any:
        return self.get("output")

    @property
    def error(self) -> str | None:
        value = self.get("error")
        return None if value is None else str(value)

    @property
    def raw(self) -> Any:
        return self.get("raw")

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def session_id(self) -> str | None:
        value = self.get("sessionId")
        return None if value is None else str(value)

    @property
    def latency_ms(self) -> float | None:
        value = self.get("latencyMs")
        return float(value) if isinstance(value, (int, float)) else None


__all__ = ["ProviderResponse"]
