"""The binding's loader: files read relative to the config directory, Python imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from promptwire.code_loader import load_sources

from sansio_core.errors import ConfigError
from sansio_core.http.response_plan import ResponsePlan


def test_loads_js_and_python_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "resp.js").write_text("module.exports = (json) => 'js:' + json.a;")
    (tmp_path / "t" / "helper.py").write_text("PREFIX = 'py:'\n")
    (tmp_path / "t" / "status.py").write_text(
        "from helper import PREFIX\n\ndef validate_status(status):\n    return status < 500\n\n"
        "def session_parser(data):\n    return PREFIX + data['headers']['x-s']\n")
    config = {"transformResponse": "file://t/resp.js", "validateStatus": "file://t/status.py",
              "sessionParser": "file://t/status.py"}
    sources = load_sources(config, tmp_path, {"K": "v"})
    assert set(sources.files) == {"t/resp.js"} and "file://t/status.py" in sources.python
    plan = ResponsePlan.compile(config, sources)
    got = plan.build(status=200, status_text="OK", headers=[("X-S", "1")], body_text='{"a": 2}', latency_ms=1,
                     prompt="p", vars={})
    assert got["output"] == "js:2" and got["sessionId"] == "py:1"
    assert plan.accepts_status(404) and not plan.accepts_status(503)


def test_named_python_function_and_missing_name(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def pick(json, text, context):\n    return json['x']\n")
    sources = load_sources({"transformResponse": "file://m.py:pick"}, tmp_path)
    assert sources.python["file://m.py:pick"]({"x": 1}, "", {}) == 1
    with pytest.raises(ConfigError, match="no function named transform_response or get_transform"):
        load_sources({"transformResponse": "file://m.py"}, tmp_path)


def test_missing_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"transformResponse: file://nope\.js: cannot read"):
        load_sources({"transformResponse": "file://nope.js"}, tmp_path)
