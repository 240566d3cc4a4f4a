"""Every example of docs/websocket.md, run against the mock server through the public API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from promptwire.api import Target

DOC = Path(__file__).resolve().parents[2] / "docs" / "websocket.md"
BLOCK = re.compile(r"```(yaml|js|python)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def _examples() -> list[tuple[str, dict[str, str], str]]:
    out = []
    for kind, text in _blocks():
        if kind != "yaml" or not text.startswith("# example:"):
            continue
        meta = dict(re.findall(r"^# (\w+): (.*)$", text, re.M))
        out.append((meta["example"], meta, text))
    return out


EXAMPLES = _examples()


def _write_files(tmp_path: Path) -> None:
    for kind, text in _blocks():
        first = text.splitlines()[0]
        if kind == "js" and first.startswith("// file: "):
            path = tmp_path / first.removeprefix("// file: ").strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def test_the_page_has_every_reference_example() -> None:
    names = {name for name, _, _ in EXAMPLES}
    assert {"configuration", "variables", "parsing", "concatenate", "complete-flag", "partials-then-complete",
            "file-handler", "file-named-export"} <= names


@pytest.mark.parametrize(("name", "meta", "text"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example(name: str, meta: dict[str, str], text: str, mock: Any, tmp_path: Path) -> None:
    _write_files(tmp_path)
    config = tmp_path / f"{name}.yaml"
    config.write_text(text.replace("127.0.0.1:8787", f"127.0.0.1:{mock.port}"), encoding="utf-8")
    assert yaml.safe_load(config.read_text())["providers"]
    with Target.from_file(config) as target:
        result = target.call(meta["prompt"], json.loads(meta.get("vars", "{}")))
    assert dict(result) == json.loads(meta["expect"])


def test_library_example(mock: Any) -> None:
    (code,) = [text for kind, text in _blocks() if kind == "python"]
    code = code.replace("127.0.0.1:8787", f"127.0.0.1:{mock.port}").replace("print(", "outputs.append(")
    outputs: list[Any] = []
    exec(compile(code, str(DOC), "exec"), {"outputs": outputs, "Target": Target})
    assert outputs == ["Echo: Hello"]
