"""``promptwire call --record / --replay`` and ``promptwire cassette show``, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from promptwire.mock import MockServer

CLI = [sys.executable, "-m", "promptwire"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def test_record_then_replay_with_the_server_stopped(tmp_path: Path) -> None:
    config = tmp_path / "chat.yaml"
    cassette = tmp_path / "cassettes" / "chat.yaml"
    with MockServer() as server:
        config.write_text(f"""
providers:
  - id: {server.base_url}/v1/chat/completions
    config:
      method: POST
      headers: {{Authorization: "Bearer sk-cli-secret-value"}}
      body: {{model: m, stream: true, messages: [{{role: user, content: "{{{{prompt}}}}"}}]}}
""")
        rec = run("call", "--config", str(config), "--prompt", "Hi there", "--record", str(cassette), "--json")
        assert rec.returncode == 0, rec.stderr
        recorded = json.loads(rec.stdout)
    assert "sk-cli-secret-value" not in cassette.read_text()

    # The server is gone: a replay must not need it.
    rep = run("call", "--config", str(config), "--prompt", "Hi there", "--replay", str(cassette), "--json")
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout) == recorded
    streamed = run("call", "--config", str(config), "--prompt", "Hi there", "--replay", str(cassette),
                   "--stream", "--binding", "trio")
    assert streamed.returncode == 0 and streamed.stdout.startswith("Echo: Hi there")

    miss = run("call", "--config", str(config), "--prompt", "Something else", "--replay", str(cassette))
    assert miss.returncode == 1
    assert "no recorded exchange" in miss.stdout and "closest recorded exchange: #1 of 1" in miss.stdout
    assert '"content": "Something else"' in miss.stdout and "Traceback" not in miss.stderr

    shown = run("cassette", "show", str(cassette))
    assert shown.returncode == 0, shown.stderr
    assert "1 exchange" in shown.stdout and "POST /v1/chat/completions HTTP/1.1" in shown.stdout
    assert "HTTP/1.1 200 OK" in shown.stdout and "[REDACTED" in shown.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("providers: [{id: 'http://127.0.0.1:9/x'}]\n")
    r = run("call", "--config", str(config), "--prompt", "x", "--replay", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "no cassette file" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: text\n")
    r = run("cassette", "show", str(bad))
    assert r.returncode == 2 and "not a promptwire cassette" in r.stderr
