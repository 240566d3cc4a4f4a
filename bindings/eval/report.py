"""What the terminal shows: a live progress bar while rows finish, then a summary table."""

from __future__ import annotations

import math
import time
from typing import Any

from .outputs import status


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return float(ordered[k])


class Tally:
    def __init__(self) -> None:
        self.passed = self.failed = self.errors = 0

    def add(self, row: dict[str, Any]) -> None:
        s = status(row)
        if s == "pass":
            self.passed += 1
        elif s == "fail":
            self.failed += 1
        else:
            self.errors += 1


class Progress:
    """A rich progress bar (done/total, pass, fail, error, rate, ETA) on stderr, or nothing."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.tally = Tally()
        self._bar: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("[green]{task.fields[passed]} pass[/] [red]{task.fields[failed]} fail[/] "
                       "[yellow]{task.fields[errors]} error[/]"),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=Console(stderr=True), refresh_per_second=8, transient=False,
        )
        self._task = self._bar.add_task("eval", total=total, completed=done, passed=0, failed=0, errors=0,
                                        rate="")
        self._t0 = time.perf_counter()
        self._count = 0
        self._bar.start()

    def advance(self, row: dict[str, Any]) -> None:
        self.tally.add(row)
        if self._bar is None:
            return
        self._count += 1
        elapsed = time.perf_counter() - self._t0
        rate = f"{self._count / elapsed:.1f} rows/s" if elapsed > 0 else ""
        t = self.tally
        self._bar.update(self._task, advance=1, passed=t.passed, failed=t.failed, errors=t.errors, rate=rate)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def summary_table(rows: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = (str((r.get("provider") or {}).get("label")), int(r["promptIdx"]),
               str((r.get("prompt") or {}).get("label", ""))[:40])
        groups.setdefault(key, []).append(r)
    table = Table(title="promptwire eval", title_justify="left", box=box.SIMPLE_HEAD,
                  caption="p50/p95: latency in ms", caption_justify="left")
    table.add_column("provider", overflow="ellipsis", max_width=16, no_wrap=True)
    table.add_column("prompt", overflow="ellipsis", max_width=20, no_wrap=True)
    for col in ("pass", "fail", "err", "p50", "p95", "tokens"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for (prov, idx, label), items in sorted(groups.items()):
        t = Tally()
        for r in items:
            t.add(r)
        lat = [float(r.get("latencyMs") or 0) for r in items if not r.get("error")]
        tokens = 0
        for r in items:
            usage = (r.get("response") or {}).get("tokenUsage") or {}
            total = usage.get("total")
            tokens += int(total) if isinstance(total, (int, float)) else 0
        rate = t.passed / len(items) * 100 if items else 0.0
        colour = "green" if t.failed == 0 and t.errors == 0 else "red"
        table.add_row(prov.replace("[", "\\["), f"{idx}: {label}".replace("[", "\\["),
                      f"[{colour}]{t.passed}/{len(items)} {rate:.0f}%[/]", str(t.failed), str(t.errors),
                      f"{percentile(lat, 50):.0f}", f"{percentile(lat, 95):.0f}", str(tokens))
    return table


__all__ = ["Progress", "Tally", "percentile", "summary_table"]
