"""Docs that must agree with the program (issue 9, item 18): links and test paths
resolve, the mock server's documented default port and TLS flags are what the
``promptwire mock`` command takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_TEST_PATH = re.compile(r"`(tests/[\w/]+\.py)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_test_files_exist(doc: Path) -> None:
    for path in _TEST_PATH.findall(doc.read_text(encoding="utf-8")):
        assert (ROOT / path).exists(), f"{doc.name} names missing {path}"


def test_mock_default_port_and_tls_flags_match_the_docs() -> None:
    from promptwire.cli import _parser
    from promptwire.mock.cli import DEFAULT_PORT

    text = (ROOT / "docs" / "mock-server.md").read_text(encoding="utf-8")
    documented = re.search(r"promptwire mock\s+# http://127\.0\.0\.1:(\d+)", text)
    assert documented is not None and int(documented.group(1)) == DEFAULT_PORT
    args = _parser().parse_args(["mock", "--certfile", "c.pem", "--keyfile", "k.pem"])
    assert args.port == DEFAULT_PORT and (args.certfile, args.keyfile) == ("c.pem", "k.pem")


def test_http_md_says_what_transform_request_does_with_each_result() -> None:
    """The row once said "any other result replaces `prompt`", but an array result is
    sent as the body (tests/core/http/test_request_plan.py pins each rule)."""
    text = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `transformRequest` |"))
    assert "merged over the *rendered* body" in row and "array result" in row and "text body" in row
