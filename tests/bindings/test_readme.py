"""The README's Python tour runs as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


def test_readme_tour_runs() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {})
    assert out.getvalue().strip() == "Echo: Hello"
