"""Start the pre-built-response server in another process and time client work."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent


@contextlib.contextmanager
def prebuilt_server(mode: str = "json") -> Iterator[int]:
    with tempfile.TemporaryDirectory() as d:
        port_file = os.path.join(d, "port")
        proc = subprocess.Popen([sys.executable, str(HERE / "_server.py"), port_file, mode])
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(port_file):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("benchmark server did not start")
                time.sleep(0.02)
            yield int(Path(port_file).read_text())
        finally:
            proc.terminate()
            proc.wait(5)


def pin_client() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int
    wall_s: float
    cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.requests * 1e6


def measure(name: str, concurrency: int, requests: int, run: Callable[[], None]) -> Result:
    cpu0, t0 = time.process_time(), time.perf_counter()
    run()
    return Result(name, concurrency, requests, time.perf_counter() - t0, time.process_time() - cpu0)


def report(results: list[Result], baseline: str) -> str:
    lines = [f"{'client':<30}{'conc':>5}{'req/s':>10}{'cpu µs/req':>12}{'rps x base':>11}{'cpu x base':>11}"]
    for conc in sorted({r.concurrency for r in results}):
        rows = [r for r in results if r.concurrency == conc]
        base = next((r for r in rows if r.name == baseline), rows[0])
        for r in rows:
            lines.append(f"{r.name:<30}{r.concurrency:>5}{r.rps:>10.0f}{r.cpu_us:>12.1f}"
                         f"{r.rps / base.rps:>11.2f}{r.cpu_us / base.cpu_us:>11.2f}")
    return "\n".join(lines)
