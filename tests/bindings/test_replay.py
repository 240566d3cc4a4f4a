"""Deterministic replay: record a real loopback call, replay its events with no sockets and no clock."""

from __future__ import annotations

from typing import Any

from promptwire._sync import driver
from promptwire.backends.sync_backend import SyncBackend
from promptwire.building import build_core_target, select_entry
from promptwire.pool import Pool

from sansio_core import actions as A
from sansio_core.call import Call
from sansio_core.testing.driver import Recording, replay
from sansio_core.timebase import Instant


class RecordingCall:
    """Stands between the real driver and a Call and writes down every step."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self.recording = Recording()
        self._last: A.Action | None = None

    @property
    def context(self) -> Any:
        return self._call.context

    def next_action(self) -> A.Action:
        if self._last is not None and not isinstance(self._last, A.NEEDS_REPLY):
            self.recording.steps.append((self._last, None, self._call.context.now))
        action = self._call.next_action()
        self._last = action
        return action

    def feed(self, event: Any, now: Instant) -> None:
        assert self._last is not None
        self.recording.steps.append((self._last, event, now))
        self._last = None
        self._call.feed(event, now)


def test_a_recorded_loopback_call_replays_to_the_same_bytes_and_response(mock: Any) -> None:
    entry = select_entry({
        "id": f"{mock.base_url}/v1/chat/completions",
        "config": {
            "method": "POST",
            "headers": {"Content-Type": "application/json", "X-Trace": "{{trace}}"},
            "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]},
            "transformResponse": "json.choices[0].message.content",
        },
    })
    target = build_core_target(entry, ".", env={})
    backend = SyncBackend()
    start = backend.now()
    live = RecordingCall(target.new_call("Tell me a joke", {"trace": "t-1"}, None, now=start, seed=42))
    response = driver.drive(live, backend, Pool())  # type: ignore[arg-type]
    assert response.output == "Echo: Tell me a joke"

    fresh = target.new_call("Tell me a joke", {"trace": "t-1"}, None, now=start, seed=42)
    end = replay(fresh, live.recording)  # raises if any action (incl. the bytes written) differs
    assert isinstance(end, A.Complete)
    assert end.response == response
    written = [a.data for a, _, _ in live.recording.steps if isinstance(a, A.Write)]
    assert written and b"X-Trace" not in written[0] and b"x-trace: t-1" in written[0]
