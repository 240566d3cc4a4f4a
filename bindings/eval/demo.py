"""The eval part of ``promptwire demo``: a small promptfoo config graded against the mock server."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .config import load_plan
from .report import Tally, summary_table
from .runner import RowRunner, RunOptions, layout, run_specs


def demo_config(base_url: str, ws_url: str) -> dict[str, Any]:
    return {
        "description": "promptwire demo eval",
        "prompts": ["Hello {{name}}", "Translate to French: {{phrase}}"],
        "providers": [
            {"id": f"{base_url}/v1/chat/completions", "label": "chat (HTTP)",
             "config": {"method": "POST",
                        "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]},
                        "transformResponse": "json.choices[0].message.content"}},
            {"id": f"{ws_url}/ws/echo-json", "label": "echo (WebSocket)",
             "config": {"messageTemplate": '{"message": {{ prompt | dump }}}', "transformResponse": "data.reply"}},
        ],
        "defaultTest": {"assert": [{"type": "starts-with", "value": "Echo:"},
                                   {"type": "javascript", "value": "output.length < 200"}]},
        "tests": [
            {"description": "greets by name", "vars": {"name": ["Ada", "Grace"], "phrase": "good morning"},
             "assert": [{"type": "contains-any", "value": ["Ada", "Grace", "French"]}]},
            {"description": "no apology", "vars": {"name": "Linus", "phrase": "thank you"},
             "assert": [{"type": "not-icontains", "value": "sorry"},
                        {"type": "llm-rubric", "value": "is polite"}]},
        ],
    }


def run_demo_eval(base_url: str, ws_url: str, console: Any) -> int:
    """Run the demo eval; prints the summary table; returns the number of failed or errored rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "promptfooconfig.json"
        path.write_text(json.dumps(demo_config(base_url, ws_url)))
        plan = load_plan(path)
        opts = RunOptions(concurrency=4)
        rows: list[dict[str, Any]] = []
        run_specs(RowRunner(plan), layout(plan, opts), opts, rows.append)
    console.print(summary_table(rows))
    tally = Tally()
    for r in rows:
        tally.add(r)
    console.print(f"eval: {len(rows)} rows, {tally.passed} passed, {tally.failed} failed, {tally.errors} errors "
                  "(llm-rubric skipped: it needs a grading model) — the same as "
                  "`promptwire eval -c promptfooconfig.yaml`", highlight=False, soft_wrap=True)
    return tally.failed + tally.errors


__all__ = ["demo_config", "run_demo_eval"]
