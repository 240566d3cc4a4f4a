"""Where eval rows go: JSONL (appended and flushed per row), JSON, CSV and a self-contained HTML report."""

from __future__ import annotations

import csv
import html
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from sansio_core.errors import ConfigError

from .. import jsontext
from .runner import row_key

FORMATS = (".jsonl", ".json", ".csv", ".html", ".htm")


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def dumps(row: Any) -> str:
    return jsontext.dumps(row, default=_default)


def check_outputs(paths: Iterable[str]) -> None:
    for p in paths:
        if Path(p).suffix.lower() not in FORMATS:
            raise ConfigError(f"--output {p}: unknown format; use .jsonl, .json, .csv or .html")


class JsonlSink:
    """Appends one JSON line per finished row and flushes it at once (a SIGKILL loses no finished row)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict[str, Any]) -> None:
        self._f.write(dumps(row) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_resume(path: str) -> list[dict[str, Any]]:
    """The finished rows of an earlier run's JSONL, dropping a torn last line (and cutting it off the file)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read --resume file {path}: {exc.strerror or exc}") from None
    end = data.rfind(b"\n") + 1
    if end < len(data):  # killed mid-write: drop the partial line so appends start clean
        with open(p, "r+b") as f:
            f.truncate(end)
        data = data[:end]
    rows = []
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ConfigError(f"--resume file {path}:{n} is not JSON lines") from None
        if not isinstance(row, dict) or "promptIdx" not in row or "testIdx" not in row:
            raise ConfigError(f"--resume file {path}:{n} is not an eval result row")
        rows.append(row)
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique[row_key(row["promptIdx"], row["testIdx"], row.get("provider") or {})] = row
    return list(unique.values())


def stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(1 for r in rows if r.get("success"))
    errors = sum(1 for r in rows if r.get("error"))
    tokens = {"total": 0, "prompt": 0, "completion": 0}
    for r in rows:
        usage = (r.get("response") or {}).get("tokenUsage") or {}
        for k in tokens:
            v = usage.get(k)
            if isinstance(v, (int, float)):
                tokens[k] += int(v)
    return {"successes": ok, "failures": len(rows) - ok - errors, "errors": errors, "tokenUsage": tokens}


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["testIdx"], r["promptIdx"], str((r.get("provider") or {}).get("label"))))


def write_json(path: str, rows: list[dict[str, Any]], config_path: str, prompts: list[dict[str, Any]]) -> None:
    doc = {
        "evalId": f"eval-promptwire-{time.strftime('%Y-%m-%dT%H:%M:%S')}",
        "results": {"version": 3, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "prompts": prompts, "results": sort_rows(rows), "stats": stats(rows)},
        "config": {"path": os.path.abspath(config_path)},
        "shareableUrl": None,
    }
    _atomic(path, jsontext.dumps(doc, indent=2, default=_default))


def _output_text(row: dict[str, Any]) -> str:
    resp = row.get("response") or {}
    out = resp.get("output")
    return out if isinstance(out, str) else ("" if out is None else dumps(out))


def _reason(row: dict[str, Any]) -> str:
    if row.get("error"):
        return str(row["error"])
    grading = row.get("gradingResult") or {}
    return str(grading.get("reason") or "")


def status(row: dict[str, Any]) -> str:
    return "error" if row.get("error") else ("pass" if row.get("success") else "fail")


CSV_COLUMNS = ["promptIdx", "testIdx", "provider", "prompt", "description", "vars", "output", "status",
               "score", "latencyMs", "reason"]


def write_csv(path: str, rows: list[dict[str, Any]]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in sort_rows(rows):
            w.writerow([r["promptIdx"], r["testIdx"], (r.get("provider") or {}).get("label"),
                        (r.get("prompt") or {}).get("label"), (r.get("testCase") or {}).get("description", ""),
                        dumps(r.get("vars")), _output_text(r), status(r), r.get("score"), r.get("latencyMs"),
                        _reason(r)])
    os.replace(tmp, path)


def _atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    # A lone surrogate (a server's escaped "\\ud83d") in the HTML report's text is shown as its escape.
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(text)
    os.replace(tmp, path)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}.stats span{margin-right:1.2em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}td pre{margin:0;white-space:pre-wrap;max-width:40em;max-height:12em;overflow:auto}
tr.pass td.st{background:#d7f5dd;color:#0a5d1e}tr.fail td.st{background:#fbd9d9;color:#8a1010}
tr.error td.st{background:#ffe8c2;color:#7a4a00}td.st{font-weight:bold;text-align:center}
.controls{margin:.8em 0}.controls input,.controls select{margin-right:.8em;padding:3px}
"""

_JS = """
(function(){
  var q=document.getElementById('q'),s=document.getElementById('s'),p=document.getElementById('p');
  var rows=Array.prototype.slice.call(document.querySelectorAll('#results tbody tr'));
  function apply(){
    var text=q.value.toLowerCase(),st=s.value,pv=p.value,shown=0;
    rows.forEach(function(r){
      var ok=(!st||r.className===st)&&(!pv||r.getAttribute('data-provider')===pv)&&
             (!text||r.textContent.toLowerCase().indexOf(text)>=0);
      r.style.display=ok?'':'none'; if(ok)shown++;
    });
    document.getElementById('shown').textContent=shown;
  }
  q.addEventListener('input',apply);s.addEventListener('change',apply);p.addEventListener('change',apply);
})();
"""


def write_html(path: str, rows: list[dict[str, Any]], title: str) -> None:
    e = html.escape
    st = stats(rows)
    providers = sorted({str((r.get("provider") or {}).get("label")) for r in rows})
    body = []
    for r in sort_rows(rows):
        prov = str((r.get("provider") or {}).get("label"))
        stt = status(r)
        body.append(
            f'<tr class="{stt}" data-provider="{e(prov)}"><td class="st">{stt.upper()}</td>'
            f"<td>{e(prov)}</td><td><pre>{e(str((r.get('prompt') or {}).get('raw', '')))}</pre></td>"
            f"<td><pre>{e(dumps(r.get('vars')))}</pre></td><td><pre>{e(_output_text(r))}</pre></td>"
            f"<td>{e(format(float(r.get('score') or 0), '.2f'))}</td><td>{e(str(r.get('latencyMs')))}</td>"
            f"<td><pre>{e(_reason(r))}</pre></td></tr>")
    options = "".join(f'<option value="{e(p)}">{e(p)}</option>' for p in providers)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body><h1>{e(title)}</h1>
<div class="stats"><span>rows: {len(rows)}</span><span>passed: {st['successes']}</span>
<span>failed: {st['failures']}</span><span>errors: {st['errors']}</span>
<span>shown: <b id="shown">{len(rows)}</b></span></div>
<div class="controls"><input id="q" type="search" placeholder="filter text…" size="30">
<select id="s"><option value="">all results</option><option value="pass">pass</option>
<option value="fail">fail</option><option value="error">error</option></select>
<select id="p"><option value="">all providers</option>{options}</select></div>
<table id="results"><thead><tr><th>result</th><th>provider</th><th>prompt</th><th>vars</th><th>output</th>
<th>score</th><th>latency ms</th><th>reason</th></tr></thead><tbody>
{''.join(body)}
</tbody></table><script>{_JS}</script></body></html>
"""
    _atomic(path, doc)


def write_final(paths: list[str], rows: list[dict[str, Any]], config_path: str,
                prompts: list[dict[str, Any]]) -> None:
    for p in paths:
        suffix = Path(p).suffix.lower()
        if suffix == ".json":
            write_json(p, rows, config_path, prompts)
        elif suffix == ".csv":
            write_csv(p, rows)
        elif suffix in (".html", ".htm"):
            write_html(p, rows, f"promptwire eval — {Path(config_path).name}")


__all__ = ["JsonlSink", "check_outputs", "dumps", "read_resume", "stats", "status", "write_final"]
