"""Time as data: absolute monotonic deadlines from an Instant, and the nearest of several."""

from __future__ import annotations

from sansio_core.timebase import Instant, earliest


def test_after_is_an_absolute_monotonic_deadline() -> None:
    now = Instant(mono=100.0, wall=1_700_000_000.0)
    assert now.after(2.5) == 102.5
    assert now.after(0) == 100.0


def test_earliest_ignores_missing_deadlines() -> None:
    assert earliest() is None
    assert earliest(None, None) is None
    assert earliest(None, 5.0, 3.0) == 3.0
    assert earliest(7.0) == 7.0


def test_instants_are_values() -> None:
    assert Instant(1.0, 2.0) == Instant(1.0, 2.0) and Instant(1.0, 2.0) != Instant(1.0, 3.0)
