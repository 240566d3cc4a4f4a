"""The promptwire command line, as a user runs it: exit codes, JSON documents, error text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "promptwire"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def chat_config(tmp_path: Path, mock: Any) -> Path:
    path = tmp_path / "chat.yaml"
    path.write_text(f"""
providers:
  - id: {mock.base_url}/v1/chat/completions
    label: chat
    config:
      method: POST
      body: {{model: m, messages: [{{role: user, content: "{{{{prompt}}}} {{{{name}}}}"}}]}}
      transformResponse: json.choices[0].message.content
  - id: {mock.base_url}/status/500
    label: broken
    config: {{method: GET, validateStatus: "status < 500"}}
""")
    return path


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_call_prints_the_provider_response_as_json(chat_config: Path, binding: str) -> None:
    r = run("call", "--config", str(chat_config), "--provider", "chat", "--prompt", "Hi",
            "--var", "name=Ada", "--json", "--binding", binding)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["output"] == "Echo: Hi Ada"
    assert doc["metadata"]["http"]["status"] == 200 and doc["cached"] is False


def test_a_rejected_status_is_thrown_and_exits_1(chat_config: Path) -> None:
    r = run("call", "--config", str(chat_config), "--provider", "broken", "--prompt", "x", "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["thrown"].startswith("HTTP call failed with status 500")


def test_calls_file_runs_in_order_one_document_per_line(chat_config: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text('{"prompt": "one", "vars": {"name": "A"}}\n{"prompt": "two", "vars": {"name": "B"}}\n')
    r = run("call", "--config", str(chat_config), "--provider", "chat", "--calls", str(calls), "--json")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["output"] for line in r.stdout.splitlines()] == ["Echo: one A", "Echo: two B"]


def test_config_errors_exit_2_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: https://example.test/x\nconfig: {method: POST, bodyy: {a: 1}}\n")
    r = run("call", "--config", str(bad), "--prompt", "x", "--json")
    assert r.returncode == 2 and "bodyy" in json.loads(r.stdout)["thrown"]
    assert "bodyy" in r.stderr and "did you mean" in r.stderr.lower() and "Traceback" not in r.stderr


def test_several_providers_need_a_choice(chat_config: Path) -> None:
    r = run("call", "--config", str(chat_config), "--prompt", "x")
    assert r.returncode == 2 and "chat, broken" in r.stderr


def test_readable_summary_without_json(chat_config: Path) -> None:
    r = run("call", "--config", str(chat_config), "--provider", "chat", "--prompt", "Hi", "--var", "name=Bo")
    assert r.returncode == 0 and "Echo: Hi Bo" in r.stdout and "200" in r.stdout


def test_demo_runs_every_example_against_the_mock() -> None:
    r = run("demo")
    assert r.returncode == 0, r.stdout + r.stderr
    for label in ("openai-chat", "raw-request", "plain-text", "websocket", "websocket-stream", "sse-stream",
                  "oauth-retry"):
        assert label in r.stdout
    assert "Echo: Tell me about" in r.stdout and "attempt 2: ok" in r.stdout


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_stream_prints_the_text_and_keeps_stdout_one_json_document(tmp_path: Path, mock: Any,
                                                                    binding: str) -> None:
    config = tmp_path / "sse.yaml"
    config.write_text(f"""
id: {mock.base_url}/v1/chat/completions
config:
  method: POST
  body: {{model: m, stream: true, messages: [{{role: user, content: "{{{{prompt}}}}"}}]}}
""")
    r = run("call", "--config", str(config), "--prompt", "two words", "--stream", "--json", "--binding", binding)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "Echo: two words"
    doc = json.loads(r.stdout)
    assert doc["raw"].startswith("data: ") and "[DONE]" in doc["raw"]


@pytest.mark.parametrize("binding", ["sync", "asyncio", "trio"])
def test_a_deeply_nested_body_is_one_json_document_with_a_clear_error(tmp_path: Path, mock: Any,
                                                                       binding: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    config = tmp_path / "deep.yaml"
    config.write_text(f"providers:\n  - id: {mock.base_url}/text\n    config:\n      method: GET\n"
                      f"      queryParams: {{text: '{deep}'}}\n")
    r = run("call", "--config", str(config), "--prompt", "x", "--json", "--binding", binding)
    assert r.returncode == 1, r.stderr
    assert "nested deeper than 256 levels" in json.loads(r.stdout)["thrown"]
    assert "RecursionError" not in r.stdout + r.stderr


def test_named_es_module_exports_work_for_file_code_options(tmp_path: Path, mock: Any) -> None:
    (tmp_path / "checks.js").write_text("export function check(status) { return status === 500 }\n"
                                        "export function parse(json, text) { return 'parsed:' + (text.length > 0) }\n")
    config = tmp_path / "esm.yaml"
    config.write_text(f"providers:\n  - id: {mock.base_url}/status/500\n    config:\n      method: GET\n"
                      "      validateStatus: file://checks.js:check\n"
                      "      transformResponse: file://checks.js:parse\n")
    r = run("call", "--config", str(config), "--prompt", "x", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["output"] == "parsed:true"


def test_invalid_javascript_in_a_code_option_fails_at_build_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("providers:\n  - id: http://127.0.0.1:9/x\n    config:\n"
                      "      sessionParser: data.headers.[\"x-session-Id\"]\n")
    r = run("call", "--config", str(config), "--prompt", "x", "--json")
    assert r.returncode == 2
    assert "sessionParser" in r.stderr and "SyntaxError" in r.stderr
