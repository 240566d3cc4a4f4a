"""Time as data: the core never reads a clock, the binding hands it an ``Instant``.

Deadlines inside actions are absolute monotonic seconds computed from the
``now`` the core was last given, so a replay with the same instants produces
the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Instant:
    """A point in time as the binding saw it.

    ``mono`` orders events and computes deadlines (seconds, arbitrary origin);
    ``wall`` is Unix time in seconds, used only where the protocol needs
    calendar time (``Retry-After`` dates, signature timestamps).
    """

    mono: float
    wall: float

    def after(self, seconds: float) -> float:
        """The absolute monotonic deadline ``seconds`` from this instant."""
        return self.mono + seconds


def earliest(*deadlines: float | None) -> float | None:
    """The nearest of several optional deadlines."""
    present = [d for d in deadlines if d is not None]
    return min(present) if present else None
