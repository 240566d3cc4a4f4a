"""``promptwire demo``: the mock server on a free loopback port, every example config against it.

The examples in docs/examples/ are ordinary promptfoo-style configs whose
URLs come from the environment (``PROMPTWIRE_MOCK_URL``, ``_WS``, ``_HOST``),
so the same files work against ``promptwire mock --port 8787`` by hand.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from sansio_core.config.provider import provider_entries
from sansio_core.errors import PromptwireError
from sansio_core.templating import TemplateEngine

from .api import AsyncTarget, Target
from .building import build_core_target
from .loader import read_document
from .mock import MockServer

DEFAULT_EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _cases(doc: Any) -> list[tuple[str, dict[str, Any]]]:
    prompts = doc.get("prompts") or ["Hello"] if isinstance(doc, dict) else ["Hello"]
    tests = (doc.get("tests") if isinstance(doc, dict) else None) or [{"vars": {}}]
    engine = TemplateEngine()
    out = []
    for prompt in prompts:
        for test in tests:
            vars_ = dict(test.get("vars") or {})
            out.append((engine.render(str(prompt), vars_), vars_))
    return out


def _call_all(path: Path, env: dict[str, str], binding: str) -> list[tuple[str, str, Any, float]]:
    doc = read_document(path)
    rows = []
    for entry in provider_entries(doc):
        core = build_core_target(entry, path.parent, env)
        label = entry.label or entry.id
        for prompt, vars_ in _cases(doc):
            t0 = time.perf_counter()
            try:
                if binding == "sync":
                    outcome: Any = Target(core).call(prompt, vars_)
                else:
                    target = AsyncTarget(core)

                    async def one(t: AsyncTarget = target, p: str = prompt, v: dict[str, Any] = vars_) -> Any:
                        return await t.call(p, v)

                    if binding == "trio":
                        import trio

                        outcome = trio.run(one)
                    else:
                        outcome = asyncio.run(one())
            except PromptwireError as exc:
                outcome = exc
            rows.append((label, prompt, outcome, (time.perf_counter() - t0) * 1000))
    return rows


def run_demo(binding: str = "sync", examples: str | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    folder = Path(examples) if examples else DEFAULT_EXAMPLES
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.json"))
    if not files:
        print(f"promptwire demo: no example configs in {folder}")
        return 2
    console = Console()
    failures = 0
    with MockServer() as mock:
        env = dict(os.environ)
        env.update(PROMPTWIRE_MOCK_URL=mock.base_url, PROMPTWIRE_MOCK_WS=mock.ws_url,
                   PROMPTWIRE_MOCK_HOST=f"127.0.0.1:{mock.port}")
        console.print(f"mock server on {mock.base_url} — {binding} binding — examples from {folder}")
        table = Table("example", "prompt", "output", "latency")
        for path in files:
            for label, prompt, outcome, ms in _call_all(path, env, binding):
                if isinstance(outcome, PromptwireError) or outcome.get("error"):
                    failures += 1
                    text = f"[red]{outcome if isinstance(outcome, PromptwireError) else outcome['error']}[/]"
                else:
                    out = outcome.get("output")
                    text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)
                    text = text.replace("[", "\\[")
                table.add_row(label, prompt, text[:120], f"{ms:.1f} ms")
        console.print(table)
        from .eval.demo import run_demo_eval

        failures += run_demo_eval(mock.base_url, mock.ws_url, console)
    return 1 if failures else 0
