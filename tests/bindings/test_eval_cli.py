"""``promptwire eval`` end to end: real subprocesses against the embedded mock server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "promptwire"]
N_TESTS, N_PROMPTS, N_PROVIDERS = 20, 3, 2
FAILING_TEST = 7


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def write_config(tmp_path: Path, mock: Any, *, fail: bool = True, delay_ms: int = 0) -> Path:
    """3 prompts x 20 tests x 2 providers (HTTP chat completions and WebSocket echo)."""
    (tmp_path / "prompts.txt").write_text("Second {{n}}\n---\nThird {{n}} {{word}}\n")
    (tmp_path / "check.py").write_text("def get_assert(output, context):\n"
                                       "    return output.startswith('Echo: ') and context['vars']['n'] in output\n")
    tests = []
    for i in range(N_TESTS):
        asserts: list[dict[str, Any]] = [
            {"type": "contains", "value": "{{n}}"},
            {"type": "javascript", "value": "output.startsWith('Echo:') && context.vars.word === 'w'"},
            {"type": "not-contains", "value": "banana", "metric": "clean"},
            {"type": "python", "value": "file://check.py"},
        ]
        if fail and i == FAILING_TEST:
            asserts.append({"type": "equals", "value": "something else"})
        tests.append({"description": f"case {i}", "vars": {"n": f"n{i}"}, "assert": asserts})
    delay = f"?delay_ms={delay_ms}" if delay_ms else ""
    config = {
        "description": "e2e",
        "prompts": ["First {{n}}", "file://prompts.txt"],
        "providers": [
            {"id": f"{mock.base_url}/v1/chat/completions{delay}", "label": "chat",
             "config": {"method": "POST",
                        "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]},
                        "transformResponse": "json.choices[0].message.content"}},
            {"id": f"{mock.ws_url}/ws/echo-json", "label": "ws",
             "config": {"messageTemplate": '{"message": {{ prompt | dump }}}',
                        "transformResponse": "data.reply"}},
        ],
        "defaultTest": {"vars": {"word": "w"}, "assert": [{"type": "starts-with", "value": "Echo: "}]},
        "tests": tests,
    }
    path = tmp_path / "promptfooconfig.json"
    path.write_text(json.dumps(config))
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["promptIdx"], row["testIdx"], row["provider"]["label"])


def check_rows(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == N_TESTS * N_PROMPTS * N_PROVIDERS
    assert len({key(r) for r in rows}) == len(rows)
    prompts = {0: "First n{i}", 1: "Second n{i}", 2: "Third n{i} w"}
    for r in rows:
        i = r["testIdx"]
        assert r["error"] is None
        assert r["prompt"]["raw"] == prompts[r["promptIdx"]].format(i=i)
        assert r["response"]["output"] == "Echo: " + r["prompt"]["raw"]
        components = r["gradingResult"]["componentResults"]
        kinds = [c["assertion"]["type"] for c in components]
        assert kinds[:5] == ["starts-with", "contains", "javascript", "not-contains", "python"]
        assert all(c["pass"] for c in components[:5])
        assert r["namedScores"] == {"clean": 1.0}
        if i == FAILING_TEST:
            assert kinds[5] == "equals" and components[5]["pass"] is False
            assert r["success"] is False and r["failureReason"] == 1
            assert r["score"] == pytest.approx(5 / 6)
        else:
            assert r["success"] is True and r["score"] == 1.0
        for field in ("promptIdx", "testIdx", "provider", "prompt", "vars", "response", "success", "score",
                      "gradingResult", "latencyMs", "error"):
            assert field in r


def test_eval_writes_120_graded_rows_and_exits_100_on_a_failed_test(tmp_path: Path, mock: Any) -> None:
    config = write_config(tmp_path, mock)
    out = tmp_path / "results.jsonl"
    html, csv_out, js = tmp_path / "report.html", tmp_path / "results.csv", tmp_path / "results.json"
    r = run("eval", "-c", str(config), "-o", str(out), "-o", str(html), "-o", str(csv_out), "-o", str(js),
            "-j", "8")
    assert r.returncode == 100, r.stderr
    check_rows(read_rows(out))
    assert "114 passed" in r.stdout and "6 failed" in r.stdout
    doc = json.loads(js.read_text())
    assert len(doc["results"]["results"]) == 120
    assert doc["results"]["stats"]["successes"] == 114 and doc["results"]["stats"]["failures"] == 6
    assert csv_out.read_text().splitlines()[0].startswith("promptIdx,testIdx,provider")
    page = html.read_text()
    assert page.count('<tr class="pass"') == 114 and page.count('<tr class="fail"') == 6
    assert "http://" not in page.split("<tbody>")[0] and "<link" not in page and "src=" not in page


def test_eval_exits_0_when_every_test_passes_and_filters_apply(tmp_path: Path, mock: Any) -> None:
    config = write_config(tmp_path, mock, fail=False)
    out = tmp_path / "r.jsonl"
    r = run("eval", "-c", str(config), "-o", str(out), "--filter-providers", "^ws$", "--filter-first-n", "3",
            "--repeat", "2", "--binding", "trio", "--no-progress")
    assert r.returncode == 0, r.stderr
    rows = read_rows(out)
    assert len(rows) == 3 * 3 * 2
    assert {row["provider"]["label"] for row in rows} == {"ws"}
    assert sorted({row["testIdx"] for row in rows}) == [0, 1, 2, 20, 21, 22]
    r = run("eval", "-c", str(config), "-o", str(out), "--filter-pattern", "case 1[0-2]$")
    assert r.returncode == 0
    assert sorted({row["testIdx"] for row in read_rows(out)}) == [10, 11, 12]


def test_eval_with_two_worker_processes_merges_every_row(tmp_path: Path, mock: Any) -> None:
    config = write_config(tmp_path, mock)
    out = tmp_path / "w.jsonl"
    r = run("eval", "-c", str(config), "-o", str(out), "--workers", "2", "-j", "8")
    assert r.returncode == 100, r.stderr
    check_rows(read_rows(out))


@pytest.mark.slow
def test_sigkill_midway_then_resume_ends_with_exactly_120_distinct_rows(tmp_path: Path, mock: Any) -> None:
    config = write_config(tmp_path, mock, delay_ms=40)
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([*CLI, "eval", "-c", str(config), "-o", str(out), "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 30:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = out.read_bytes().count(b"\n")
    assert 30 <= before < 120, before
    r = run("eval", "-c", str(config), "--resume", str(out), "-j", "8")
    assert r.returncode == 100, r.stderr
    rows = read_rows(out)
    check_rows(rows)
    assert f"{before} resumed" in r.stdout or f"{before - 1} resumed" in r.stdout
    # Nothing left to do: a second resume runs no row and keeps the file as it is.
    r = run("eval", "-c", str(config), "--resume", str(out))
    assert r.returncode == 100 and "ran 0 in" in r.stdout
    assert len(read_rows(out)) == 120


def test_eval_mistakes_exit_2_with_a_clear_message(tmp_path: Path, mock: Any) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("prompts: [hi]\nproviders: [openai:gpt-4o-mini]\ntests: [{vars: {}}]\n")
    r = run("eval", "-c", str(cfg))
    assert r.returncode == 2 and "promptwire runs http/https and ws/wss targets" in r.stderr
    assert "Traceback" not in r.stderr
    cfg.write_text(f"prompts: [hi]\nproviders: [{mock.base_url}/text]\n"
                   "tests: [{assert: [{type: no-such-check, value: 1}]}]\n")
    r = run("eval", "-c", str(cfg))
    assert r.returncode == 2 and "no-such-check" in r.stderr and "Traceback" not in r.stderr
    cfg.write_text(f"prompts: [hi]\nproviders: [{mock.base_url}/text]\n"
                   "tests: [{assert: [{type: javascript, value: 'output.'}]}]\n")
    r = run("eval", "-c", str(cfg))
    assert r.returncode == 2 and "javascript" in r.stderr and "Traceback" not in r.stderr
    r = run("eval", "-c", str(cfg), "-o", "x.pdf")
    assert r.returncode == 2 and "unknown format" in r.stderr
    r = run("eval", "-c", str(cfg), "-j", "0")
    assert r.returncode == 2


def test_eval_row_errors_exit_1_and_model_graded_assertions_are_skipped(tmp_path: Path, mock: Any) -> None:
    cfg = tmp_path / "c.yaml"
    out = tmp_path / "o.jsonl"
    cfg.write_text(f"""
prompts: ["{{{{q}}}}"]
providers:
  - id: {mock.base_url}/text
    label: ok
    config: {{method: GET}}
  - id: {mock.base_url}/status/500
    label: broken
    config: {{method: GET, validateStatus: "status < 500"}}
tests:
  - vars: {{q: hi}}
    assert: [{{type: llm-rubric, value: is friendly}}]
""")
    r = run("eval", "-c", str(cfg), "-o", str(out))
    assert r.returncode == 1, r.stderr
    rows = {row["provider"]["label"]: row for row in read_rows(out)}
    assert rows["broken"]["error"] and rows["broken"]["success"] is False and rows["broken"]["failureReason"] == 2
    skipped = rows["ok"]["gradingResult"]["componentResults"][0]
    assert skipped["skipped"] is True and skipped["pass"] is None and "grading model" in skipped["reason"]
    assert "1 model-graded assertions skipped" in r.stdout
