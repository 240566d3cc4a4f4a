"""The core alone: one HTTP call driven with canned events, no sockets, no clock.

    python tests/bench/bench_core.py

Shows what the Sans-IO core costs per call (templates, h11, transform,
response), separate from the bindings' I/O.
"""

from __future__ import annotations

import time

from _server import RESPONSE
from bench_http import PROMPT, promptwire_config
from promptwire.api import build_core_target, select_entry

from sansio_core import actions as A
from sansio_core import events as E
from sansio_core.timebase import Instant


def main() -> None:
    target = build_core_target(select_entry(promptwire_config(9)), ".", env={})
    now = Instant(1.0, 1.0)

    def one() -> None:
        call = target.new_call(PROMPT, {}, None, now=now, seed=1)
        while True:
            action = call.next_action()
            if isinstance(action, A.Complete):
                assert action.response.output
                return
            if isinstance(action, A.Open):
                call.feed(E.Opened(action.conn, True), now)
            elif isinstance(action, A.Write):
                call.feed(E.Written(action.conn), now)
            elif isinstance(action, A.Read):
                call.feed(E.Received(action.conn, RESPONSE), now)

    for _ in range(500):
        one()
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(2000):
            one()
        runs.append((time.perf_counter() - t0) / 2000 * 1e6)
    runs.sort()
    print(f"core per call: median {runs[2]:.1f} µs (min {runs[0]:.1f}, max {runs[-1]:.1f})")


if __name__ == "__main__":
    main()
