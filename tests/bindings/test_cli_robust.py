"""The CLI with ``--json`` always prints one JSON document; retries are never silent."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from promptwire import cli

CLI = [sys.executable, "-m", "promptwire"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_a_config_error_with_json_is_one_thrown_document(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  - id: http://127.0.0.1:1/x\n    config: {method: POST, nonsense: 1}\n")
    r = run("call", "--config", str(path), "--prompt", "hi", "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert set(doc) == {"thrown"} and doc["thrown"]


@pytest.mark.parametrize("binding", ["sync", "asyncio"])
def test_an_internal_error_with_json_is_one_thrown_document(tmp_path: Path, monkeypatch: Any,
                                                            capsys: Any, binding: str) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("providers:\n  - id: http://127.0.0.1:1/x\n    config: {method: POST, body: '{{prompt}}'}\n")
    from promptwire import api

    def boom(*a: Any, **k: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    async def aboom(*a: Any, **k: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(api.Target, "call", boom)
    monkeypatch.setattr(api.AsyncTarget, "call", aboom)
    monkeypatch.delenv("PROMPTWIRE_DEBUG", raising=False)
    code = cli.main(["call", "--config", str(path), "--prompt", "hi", "--json", "--binding", binding])
    out = capsys.readouterr().out
    assert code == 1
    doc = json.loads(out)
    assert "RecursionError" in doc["thrown"]


def test_an_error_outside_the_calls_with_json_is_still_a_document(tmp_path: Path, monkeypatch: Any,
                                                                   capsys: Any) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("providers:\n  - id: http://127.0.0.1:1/x\n    config: {method: POST, body: '{{prompt}}'}\n")
    monkeypatch.setattr(cli, "_run_calls", lambda *a, **k: (_ for _ in ()).throw(KeyError("x")))
    monkeypatch.delenv("PROMPTWIRE_DEBUG", raising=False)
    code = cli.main(["call", "--config", str(path), "--prompt", "hi", "--json"])
    assert code == 1
    assert "internal error" in json.loads(capsys.readouterr().out)["thrown"]


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_each_retry_of_a_refused_port_is_printed_on_stderr(tmp_path: Path, binding: str) -> None:
    path = tmp_path / "refused.yaml"
    path.write_text(f"providers:\n  - id: http://127.0.0.1:{refused_port()}/x\n"
                    "    config: {method: POST, body: '{{prompt}}', maxRetries: 2}\n")
    r = run("call", "--config", str(path), "--prompt", "hi", "--json", "--binding", binding,
            env={"PROMPTFOO_REQUEST_BACKOFF_MS": "10"})
    assert r.returncode == 1
    assert "attempt 1/3 failed: connection refused; retrying in 0.0 s" in r.stderr
    assert "attempt 2/3 failed: connection refused; retrying in 0.0 s" in r.stderr
    assert "Request failed after 2 retries" in json.loads(r.stdout)["thrown"]
