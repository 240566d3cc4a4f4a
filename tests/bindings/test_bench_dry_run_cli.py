"""``promptwire bench`` and ``promptwire call --dry-run``, run as a user runs them, against the mock server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "promptwire"]
SECRET = "sk-test-not-a-real-key-0123456789"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def bench_config(tmp_path: Path, mock: Any) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(f"""
prompts: ["Hello bench"]
providers:
  - id: {mock.base_url}/v1/chat/completions
    label: chat
    config:
      method: POST
      body: {{model: m, messages: [{{role: user, content: "{{{{prompt}}}}"}}]}}
      transformResponse: json.choices[0].message.content
  - id: {mock.base_url}/v1/chat/completions
    label: streamed
    config:
      method: POST
      body: {{model: m, stream: true, messages: [{{role: user, content: "{{{{prompt}}}}"}}]}}
  - id: {mock.base_url}/status/503
    label: down
    config: {{method: GET, validateStatus: "status < 500", maxRetries: 0}}
""")
    return path


def test_bench_closed_loop_prints_the_report(bench_config: Path) -> None:
    r = run("bench", "-c", str(bench_config), "--provider", "chat", "-n", "200", "-j", "8")
    assert r.returncode == 0, r.stderr
    for text in ("Summary (closed loop at -j 8)", "Requests:      200 (200 ok, 0 errors)", "Requests/sec",
                 "p50", "p99", "Response time histogram", "■"):
        assert text in r.stdout


def test_bench_json_keys_and_ttft_when_streamed(bench_config: Path) -> None:
    r = run("bench", "-c", str(bench_config), "--provider", "streamed", "-n", "60", "--rate", "300", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["requests", "errors", "rps", "latency_ms", "ttft_ms"]
    assert doc["requests"] == 60 and doc["errors"] == 0 and doc["rps"] > 0
    assert list(doc["latency_ms"]) == ["min", "p50", "p90", "p99", "max"]
    lat, ttft = doc["latency_ms"], doc["ttft_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert 0 < ttft["p50"] <= lat["max"]
    r = run("bench", "-c", str(bench_config), "--provider", "chat", "-n", "40", "--json", "--workers", "2")
    doc = json.loads(r.stdout)
    assert list(doc) == ["requests", "errors", "rps", "latency_ms"] and doc["requests"] == 40


def test_bench_counts_errors_by_kind(bench_config: Path) -> None:
    r = run("bench", "-c", str(bench_config), "--provider", "down", "-n", "10", "-j", "2")
    assert r.returncode == 0
    assert "(0 ok, 10 errors)" in r.stdout and "HTTP 503" in r.stdout
    r = run("bench", "-c", str(bench_config), "--provider", "down", "-n", "5", "--json")
    assert json.loads(r.stdout)["errors"] == 5
    r = run("bench", "-c", str(bench_config), "--provider", "chat")
    assert r.returncode == 2 and "-n" in r.stderr


@pytest.fixture
def secret_config(tmp_path: Path, mock: Any) -> Path:
    path = tmp_path / "secret.yaml"
    path.write_text(f"""
providers:
  - id: {mock.base_url}/v1/chat/completions?api_key={{{{env.MY_API_KEY}}}}&v=1
    label: chat
    config:
      method: POST
      headers: {{Authorization: "Bearer {{{{env.MY_API_KEY}}}}", X-Trace: t-1}}
      body: {{model: m, messages: [{{role: user, content: "{{{{prompt}}}} {{{{name}}}}"}}]}}
  - id: {mock.ws_url}/ws/echo-json
    label: ws
    config:
      messageTemplate: '{{"message": {{{{ prompt | dump }}}}, "key": "{{{{env.MY_API_KEY}}}}"}}'
  - id: {mock.base_url}/v1/chat/completions
    label: oauth
    config:
      method: POST
      body: {{q: "{{{{prompt}}}}"}}
      auth: {{type: oauth, grantType: client_credentials, tokenUrl: "{mock.base_url}/oauth/token",
              clientId: me, clientSecret: "{{{{env.MY_API_KEY}}}}"}}
""")
    return path


def test_dry_run_prints_the_http_request_with_secrets_redacted_and_sends_nothing(
        secret_config: Path, mock: Any) -> None:
    before = len(mock.requests)
    r = run("call", "--config", str(secret_config), "--provider", "chat", "--prompt", "Hi", "--var", "name=Ada",
            "--dry-run", env={"MY_API_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout and SECRET not in r.stderr
    assert r.stdout.startswith("dry run: nothing was sent")
    assert f"POST {mock.base_url}/v1/chat/completions?api_key=%5BREDACTED%5D&v=1" in r.stdout
    assert re.search(r"(?i)authorization: \[REDACTED\]", r.stdout) and re.search(r"(?i)x-trace: t-1", r.stdout)
    assert '"content": "Hi Ada"' in r.stdout
    assert "| POST /v1/chat/completions?api_key=[REDACTED]&v=1 HTTP/1.1" in r.stdout
    r = run("call", "--config", str(secret_config), "--provider", "chat", "--prompt", "Hi", "--dry-run", "--json",
            env={"MY_API_KEY": SECRET})
    doc = json.loads(r.stdout)
    assert doc["sent"] is False and doc["request"]["method"] == "POST"
    assert doc["request"]["body"]["messages"][0]["content"] == "Hi "
    assert SECRET not in r.stdout
    assert len(mock.requests) == before


def test_dry_run_websocket_shows_the_handshake_and_first_message(secret_config: Path, mock: Any) -> None:
    before = len(mock.requests)
    r = run("call", "--config", str(secret_config), "--provider", "ws", "--prompt", "Hi", "--dry-run", "--json",
            env={"MY_API_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["handshake"]["method"] == "GET"
    names = {n.lower() for n, _ in doc["handshake"]["headers"]}
    assert {"upgrade", "sec-websocket-key", "sec-websocket-version"} <= names
    assert json.loads(doc["message"]) == {"message": "Hi", "key": "[REDACTED]"}
    assert SECRET not in r.stdout
    assert len(mock.requests) == before


def test_dry_run_shows_a_network_pre_step_as_such(secret_config: Path, mock: Any) -> None:
    r = run("call", "--config", str(secret_config), "--provider", "oauth", "--prompt", "Hi", "--dry-run",
            env={"MY_API_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    assert "pre-step: OAuth token request — needs the network, NOT SENT" in r.stdout
    assert f"POST {mock.base_url}/oauth/token" in r.stdout
    assert SECRET not in r.stdout


def test_dry_run_websocket_shows_init_messages_and_stops_at_a_wait(tmp_path: Path, mock: Any) -> None:
    path = tmp_path / "init.yaml"
    path.write_text(f"""
providers:
  - id: {mock.ws_url}/ws/chat
    label: plain
    config:
      messageTemplate: '{{"prompt": {{{{ prompt | dump }}}}}}'
      initMessages: ['{{"type": "hello"}}', '{{"type": "auth", "token": "{{{{env.MY_API_KEY}}}}"}}']
  - id: {mock.ws_url}/ws/chat
    label: waits
    config:
      messageTemplate: '{{"prompt": {{{{ prompt | dump }}}}}}'
      connectionScope: conversation
      initMessages: ['{{"type": "hello"}}', {{waitFor: '^READY$', message: 'go'}}]
""")
    before = len(mock.requests)
    r = run("call", "--config", str(path), "--provider", "plain", "--prompt", "Hi", "--dry-run", "--json",
            env={"MY_API_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [json.loads(m) for m in doc["initMessages"]] == [{"type": "hello"}, {"type": "auth", "token": "[REDACTED]"}]
    assert json.loads(doc["message"]) == {"prompt": "Hi"}
    r = run("call", "--config", str(path), "--provider", "waits", "--prompt", "Hi", "--var", "conversationId=c",
            "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "init message 1 (after the handshake):\n  {\"type\": \"hello\"}" in r.stdout
    assert "waits for a server message matching initMessages[1].waitFor" in r.stdout
    assert "the prompt's message" not in r.stdout
    assert SECRET not in r.stdout and len(mock.requests) == before
