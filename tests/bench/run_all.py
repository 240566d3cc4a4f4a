"""Run every benchmark in one go (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

for script in ("bench_core.py", "bench_transforms.py", "bench_http.py", "bench_sse.py", "bench_ws.py", "bench_eval.py",
               "bench_replay.py"):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, check=True)
