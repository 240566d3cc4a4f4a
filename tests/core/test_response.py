"""ProviderResponse: promptfoo's open dict shape with typed access to the known fields."""

from __future__ import annotations

import json

from sansio_core.response import ProviderResponse


def test_known_fields_read_from_the_dict() -> None:
    r = ProviderResponse(output={"a": 1}, raw="text", metadata={"http": {"status": 200}}, sessionId=123,
                         latencyMs=12, extra="kept")
    assert r.output == {"a": 1} and r.raw == "text"
    assert r.metadata == {"http": {"status": 200}}
    assert r.session_id == "123"
    assert r.latency_ms == 12.0 and isinstance(r.latency_ms, float)
    assert r.error is None
    assert json.loads(json.dumps(r)) == {"output": {"a": 1}, "raw": "text", "metadata": {"http": {"status": 200}},
                                         "sessionId": 123, "latencyMs": 12, "extra": "kept"}


def test_absent_or_odd_fields() -> None:
    r = ProviderResponse(error=404, metadata="not a dict", latencyMs="12")
    assert r.error == "404"
    assert r.output is None and r.raw is None and r.session_id is None
    assert r.metadata == {}
    assert r.latency_ms is None
    assert ProviderResponse().metadata == {}


def test_timing_is_an_attribute_not_a_key() -> None:
    r = ProviderResponse(output="x")
    assert r.timing is None
    r.timing = {"total_ms": 5}
    assert "timing" not in r and json.dumps(r) == '{"output": "x"}'
