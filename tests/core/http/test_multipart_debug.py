"""context.debug on a multipart request reports the parts, not the body text (spec 5.8, 17.5)."""

from __future__ import annotations

from sansio_core import actions as A
from sansio_core.config.provider import parse_provider_entry
from sansio_core.sources import Sources
from sansio_core.targets import build_target
from sansio_core.testing.h11_peer import ServerReply, run_against
from sansio_core.timebase import Instant


def test_debug_metadata_lists_multipart_fields_and_files() -> None:
    entry = parse_provider_entry({
        "id": "http://upload.test/upload",
        "config": {"multipart": {"parts": [
            {"kind": "field", "name": "question", "value": "{{prompt}}"},
            {"kind": "field", "name": "api_key", "value": "sk-secret"},
            {"kind": "file", "name": "doc", "filename": "a.pdf", "source": {"type": "generated", "generator": "basic-document", "format": "pdf"}},
        ]}},
    })
    target = build_target(entry, Sources(env={}))
    call = target.new_call("hi", {}, {"debug": True}, now=Instant(1.0, 1.0), seed=7)
    end, rec = run_against(call, lambda req: ServerReply(200, [("content-type", "text/plain")], b"ok"))
    assert isinstance(end, A.Complete), end
    meta = end.response["metadata"]
    assert "finalRequestBody" not in meta
    fields = {f["field"]: f["value"] for f in meta["multipart"]["fields"]}
    assert fields["question"] == "hi" and fields["api_key"] == "[REDACTED]"
    (doc,) = meta["multipart"]["files"]
    assert doc["filename"] == "a.pdf" and doc["contentType"] == "application/pdf" and doc["sizeBytes"] > 0
    assert rec.requests[0].headers[0][0] == "host"
