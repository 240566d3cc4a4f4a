"""multipart.parts (spec 17): the body a server receives, parsed back part by part.

Targets are built from configs and called against an in-memory h11 server;
bodies are parsed with the standard library's ``email`` parser (an
independent multipart reader) and compared with promptfoo's recorded bytes
where the conformance goldens pin them.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.errors import ConfigError, PromptwireError
from sansio_core.http.multipart import JPEG_1X1, PNG_1X1, basic_pdf, blob_type, content_type_for
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

GOLDENS = Path("/work/shared/conformance/cases")
T164_PDF = (
    "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\n"
    "endobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
    "/Contents 5 0 R >>\nendobj\n4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n5 0 obj\n"
    "<< /Length 41 >>\nstream\nBT\n/F1 16 Tf\n72 720 Td\n(Doc for q1) Tj\nET\nendstream\nendobj\nxref\n0 6\n"
    "0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n0000000241 00000 n \n"
    "0000000311 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n402\n%%EOF\n"
)


def target(config: Mapping[str, Any], files: Mapping[str, bytes] | None = None) -> HttpTarget:
    entry = parse_provider_entry({"id": "http://api.test/upload", "config": dict(config)})
    return HttpTarget.compile(entry, Sources(files=dict(files or {}), base_dir="/cfg"))


def send(t: HttpTarget, prompt: str = "q1", vars: Mapping[str, Any] | None = None, seed: int = 7) -> SeenRequest:
    seen: list[SeenRequest] = []

    def handler(req: SeenRequest) -> ServerReply:
        seen.append(req)
        return ServerReply(200, [("content-type", "application/json")], b'{"ok":true}')

    end, _ = run_against(t.new_call(prompt, vars or {}, None, now=Instant(1.0, 1e9), seed=seed), handler)
    if isinstance(end, A.Fail):
        raise end.error
    return seen[0]


def headers(req: SeenRequest) -> dict[str, str]:
    return dict(req.headers)


def parts(req: SeenRequest) -> list[dict[str, Any]]:
    """Each part's name, filename, content type and payload bytes, via ``email``."""
    head = f"Content-Type: {headers(req)['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    assert msg.is_multipart()
    out = []
    for part in msg.iter_parts():
        out.append({
            "name": part.get_param("name", header="content-disposition"),
            "filename": part.get_filename(),
            "type": part.get("content-type"),
            "data": part.get_payload(decode=True),
        })
    return out


def test_fields_and_generated_pdf_like_promptfoo() -> None:
    t = target({"headers": {"Content-Type": "application/json", "X-Keep": "1"}, "multipart": {"parts": [
        {"kind": "field", "name": "documentQuery", "value": "{{prompt}}"},
        {"kind": "file", "name": "file", "source": {"type": "generated", "text": "Doc for {{prompt}}"}},
    ]}})
    req = send(t)
    assert req.method == "POST"
    h = headers(req)
    assert h["x-keep"] == "1"
    assert h["content-type"].startswith("multipart/form-data; boundary=")
    assert h["content-length"] == str(len(req.body))
    got = parts(req)
    assert got[0] == {"name": "documentQuery", "filename": None, "type": None, "data": b"q1"}
    assert got[1]["filename"] == "promptfoo-document.pdf"
    assert got[1]["type"] == "application/pdf"
    assert got[1]["data"] == T164_PDF.encode()


def test_wire_layout_is_the_whatwg_encoding() -> None:
    t = target({"multipart": {"parts": [
        {"kind": "field", "name": 'a"b\nc', "value": "line1\nline2\rline3"},
        {"kind": "file", "name": "f", "filename": 'x"y.txt', "contentType": "Text/Plain",
         "source": {"type": "path", "path": "u.txt"}},
    ]}}, {"u.txt": b"raw\nbytes"})
    req = send(t)
    boundary = headers(req)["content-type"].split("boundary=", 1)[1]
    assert req.body == (
        f'--{boundary}\r\nContent-Disposition: form-data; name="a%22b%0D%0Ac"\r\n\r\nline1\r\nline2\r\nline3\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="x%22y.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nraw\nbytes\r\n--{boundary}--\r\n"
    ).encode()


def test_boundary_comes_from_the_call_seed() -> None:
    t = target({"multipart": {"parts": [{"kind": "field", "name": "a", "value": "b"}]}})
    assert send(t, seed=1).body == send(t, seed=1).body
    assert send(t, seed=1).body != send(t, seed=2).body


def test_golden_pdf_with_escaped_text() -> None:
    golden = json.loads((GOLDENS / "multipart_pdf.golden.json").read_text())
    doc = golden["checks"]["multipart_documents"][0]
    assert basic_pdf("Invoice for ACME (EU) \\ Ltd (total: 42)") == base64.b64decode(doc["b64"])


def test_pdf_text_is_collapsed_trimmed_and_cut() -> None:
    assert b"(a b c) Tj" in basic_pdf("  a \n\t b\u00a0 c  ")
    long = basic_pdf("x" * 900)
    assert b"(" + b"x" * 800 + b") Tj" in long
    assert b"Promptfoo generated document for multipart HTTP target testing." in send(target({"multipart": {
        "parts": [{"kind": "file", "name": "f", "source": {"type": "generated"}}]}})).body


def test_generated_images_and_filename_template() -> None:
    t = target({"method": "POST", "multipart": {"parts": [
        {"kind": "file", "name": "image_{{slot}}", "filenameTemplate": "{{slot}}-picture.png",
         "source": {"type": "generated", "format": "png"}},
        {"kind": "file", "name": "j", "source": {"type": "generated", "format": "jpg"}},
        {"kind": "file", "name": "k", "contentType": "image/x-custom", "source": {"type": "generated",
                                                                                  "format": "jpeg"}},
    ]}})
    got = parts(send(t, vars={"slot": "a1"}))
    assert got[0]["name"] == "image_a1" and got[0]["filename"] == "a1-picture.png"
    assert got[0]["type"] == "image/png"
    assert hashlib.sha256(got[0]["data"]).hexdigest() == \
        "4b5c5c92cec3b23e6a294fc0eea43234ef5126c5a64f4c6c531ac8430ab0b844"
    assert got[1]["filename"] == "promptfoo-document.jpg" and got[1]["type"] == "image/jpeg"
    assert got[1]["data"] == JPEG_1X1 and JPEG_1X1.startswith(b"\xff\xd8") and JPEG_1X1.endswith(b"\xff\xd9")
    # Byte-identical to promptfoo's generated JPEG (spec 17.3 and case T169 multipart_jpeg).
    assert len(got[1]["data"]) == 516
    assert hashlib.sha256(got[1]["data"]).hexdigest() == \
        "b1fc0119ac25d83c52c8ce8238477d32099b1d82e36902366931d7d2a175b182"
    assert got[2]["filename"] == "promptfoo-document.jpeg" and got[2]["type"] == "image/x-custom"
    assert len(PNG_1X1) == 68


def test_path_source_filename_and_type_from_extension() -> None:
    t = target({"multipart": {"parts": [
        {"kind": "field", "name": "n", "value": 7},
        {"kind": "field", "name": "b", "value": True},
        {"kind": "file", "name": "f", "source": {"type": "path", "path": "dir/upload.txt"}},
        {"kind": "file", "name": "g", "source": {"type": "path", "path": "file://data/key.pem"}},
    ]}}, {"dir/upload.txt": b"hello file content", "data/key.pem": b"\x00\x01"})
    got = parts(send(t))
    assert [p["data"] for p in got[:2]] == [b"7", b"true"]
    assert (got[2]["filename"], got[2]["type"], got[2]["data"]) == ("upload.txt", "text/plain", b"hello file content")
    assert (got[3]["filename"], got[3]["type"], got[3]["data"]) == ("key.pem", "application/octet-stream",
                                                                   b"\x00\x01")


def test_transformed_prompt_reaches_the_parts() -> None:
    t = target({"transformRequest": "prompt.toUpperCase()", "multipart": {"parts": [
        {"kind": "field", "name": "q", "value": "{{prompt}}"}]}})
    assert parts(send(t, prompt="hey"))[0]["data"] == b"HEY"


@pytest.mark.parametrize(("config", "message"), [
    ({"method": "GET", "multipart": {"parts": [{"kind": "field", "name": "a", "value": "b"}]}},
     "HTTP provider GET requests cannot use multipart"),
    ({"method": "POST", "body": {"a": 1}, "multipart": {"parts": [{"kind": "field", "name": "a", "value": "b"}]}},
     "cannot include both body and multipart"),
    ({"multipart": {"parts": []}}, "multipart.parts"),
    ({"multipart": {"parts": [{"kind": "file", "name": "f", "source": {"type": "path", "path": "{{p}}.txt"}}]}},
     "templated multipart file paths are not supported yet"),
])
def test_config_errors_at_load_time(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        target(config)


def test_templated_get_fails_the_call() -> None:
    t = target({"method": "{{m}}", "multipart": {"parts": [{"kind": "field", "name": "a", "value": "b"}]}})
    with pytest.raises(PromptwireError, match="HEAD requests cannot use multipart"):
        send(t, vars={"m": "HEAD"})


def test_debug_metadata_lists_fields_and_files() -> None:
    from sansio_core.http.multipart import FieldPart, FilePart, debug_summary

    summary = debug_summary([FieldPart("q", "hi"), FieldPart("api_key", "abc"),
                             FilePart("f", "a.pdf", "application/pdf", b"123", "generated:pdf")])
    assert summary == {
        "fields": [{"field": "q", "value": "hi"}, {"field": "api_key", "value": "[REDACTED]"}],
        "files": [{"field": "f", "filename": "a.pdf", "contentType": "application/pdf", "sizeBytes": 3,
                   "source": "generated:pdf"}],
    }


def test_type_helpers() -> None:
    assert content_type_for("a.TIF") == "image/tiff"
    assert content_type_for("noext") == "application/octet-stream"
    assert blob_type("Image/PNG") == "image/png"
    assert blob_type("text/plain; x=\u00e9") == ""
