"""JavaScript sees the call's clock: ``Date.now()`` and ``new Date()`` are the wall time the
binding fed with the last event, so a replayed call computes what the recorded one did."""

from __future__ import annotations

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.timebase import Instant


def _target(transform: str) -> HttpTarget:
    entry = parse_provider_entry({"id": "http://example.test/x", "config": {"transformResponse": transform}})
    return HttpTarget.compile(entry, Sources(files={}, python={}, base_dir="/cfg"))


def _run(t: HttpTarget, wall: float) -> object:
    end, _ = run_against(t.new_call("p", {}, None, now=Instant(5.0, wall), seed=1),
                         lambda req: ServerReply(200, [("content-type", "text/plain")], b"ok"), step_s=0.25)
    assert isinstance(end, A.Complete)
    return end.response.output


def test_date_now_is_the_calls_wall_clock() -> None:
    t = _target("(json, text) => [Date.now(), new Date().getTime(), new Date(0).getTime(), typeof Date.UTC]")
    first = _run(t, 1_000_000.0)
    # The transform runs after the response was read: 4 events of 0.25 s each.
    assert first == [1_000_001_000, 1_000_001_000, 0, "function"]
    assert _run(t, 2_000_000.0) == [2_000_001_000, 2_000_001_000, 0, "function"]
    assert _run(t, 1_000_000.0) == first


def test_dates_keep_working_as_dates() -> None:
    t = _target("(json, text) => { const d = new Date(Date.UTC(2024, 0, 2)); "
                "return [d instanceof Date, d.toISOString(), typeof Date(), new Date(Date.now()).getTime()]; }")
    out = _run(t, 1_700_000_000.0)
    assert out[:3] == [True, "2024-01-02T00:00:00.000Z", "string"]
    assert out[3] == 1_700_000_001_000
