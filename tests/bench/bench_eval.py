"""Rows per second of ``promptwire eval``: 10,000 rows against a pre-built-response server.

2 prompts x 5,000 tests (a CSV file) x 1 HTTP provider, three assertions per
row (contains, icontains-any, a JavaScript expression), results to JSONL.
Run with ``python tests/bench/bench_eval.py``; prints the run's own rows/s
(the engine, from the eval summary line) and the wall time including start-up,
at ``-j 50`` in one process and with ``--workers 2``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import prebuilt_server

TESTS = 5000


def write_config(folder: Path, port: int) -> Path:
    rows = ["topic,__expected,__expected2"]
    rows += [f"topic {i},contains: fox,icontains-any: DOG, cat" for i in range(TESTS)]
    (folder / "tests.csv").write_text("\n".join(rows) + "\n")
    config = {
        "prompts": ["Tell me about {{topic}}", "Summarise {{topic}} in one line"],
        "providers": [{
            "id": f"http://127.0.0.1:{port}/v1/chat/completions", "label": "bench",
            "config": {"method": "POST",
                       "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]},
                       "transformResponse": "json.choices[0].message.content"},
        }],
        "defaultTest": {"assert": [{"type": "javascript", "value": "output.length > 10"}]},
        "tests": "file://tests.csv",
    }
    path = folder / "promptfooconfig.json"
    path.write_text(json.dumps(config))
    return path


def run(config: Path, out: Path, *extra: str) -> tuple[float, float, int]:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "promptwire", "eval", "-c", str(config), "-o", str(out),
                        "--no-progress", *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"eval exited {r.returncode}: {r.stderr[-2000:]}")
    m = re.search(r"ran (\d+) in ([\d.]+) s", r.stdout)
    assert m, r.stdout
    rows = sum(1 for _ in out.open())
    return int(m.group(1)) / float(m.group(2)), rows / wall, rows


def main() -> None:
    with prebuilt_server() as port, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder, port)
        out = folder / "results.jsonl"
        print(f"{'run':<24}{'rows':>8}{'rows/s (run)':>15}{'rows/s (wall)':>16}")
        for name, extra in (("-j 50", ("-j", "50")), ("-j 50 --workers 2", ("-j", "50", "--workers", "2"))):
            engine, wall, rows = run(config, out, *extra)
            print(f"{name:<24}{rows:>8}{engine:>15.0f}{wall:>16.0f}", flush=True)


if __name__ == "__main__":
    main()
