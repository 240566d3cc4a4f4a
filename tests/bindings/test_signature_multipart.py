"""signatureAuth and multipart end to end: a config file on disk, real sockets, the mock server.

The loader must read the key file, the PKCS#12 bundle and the upload file
relative to the config's directory; ``/echo`` returns what the server
received, which is checked with an independent verifier and parser.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from promptwire.api import AsyncTarget, Target
from promptwire.mock import MockServer

from sansio_core.errors import ConfigError

KEYS = Path("/work/shared/conformance/cases/keys")


def write_config(tmp_path: Path, config: dict[str, Any], url: str) -> Path:
    path = tmp_path / "promptwire.yaml"
    path.write_text(yaml.safe_dump({"providers": [{"id": url, "config": config}]}))
    return path


def echoed_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response["output"]["headers"]}


def verify(headers: dict[str, str], data_prefix: str) -> None:
    public = serialization.load_pem_public_key((KEYS / "test_rsa_public.pem").read_bytes())
    data = f"{data_prefix}{headers['x-timestamp']}".encode()
    public.verify(base64.b64decode(headers["x-signature"]), data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]


@pytest.fixture()
def keydir(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    for name in ("test_rsa_private.pem", "test_rsa_signature.pfx"):
        shutil.copy(KEYS / name, tmp_path / "keys" / name)
    return tmp_path


SIGNED = {
    "method": "POST",
    "headers": {"X-Signature": "{{signature}}", "X-Timestamp": "{{signatureTimestamp}}"},
    "body": {"q": "{{prompt}}"},
}


@pytest.mark.parametrize("auth", [
    {"type": "pem", "privateKeyPath": "keys/test_rsa_private.pem", "signatureDataTemplate": "app{{signatureTimestamp}}"},
    {"type": "pfx", "pfxPath": "keys/test_rsa_signature.pfx", "pfxPassword": "sig-pfx-pass",
     "signatureDataTemplate": "app{{signatureTimestamp}}"},
])
def test_signature_from_files_next_to_the_config(mock: MockServer, keydir: Path, auth: dict[str, Any]) -> None:
    path = write_config(keydir, {**SIGNED, "signatureAuth": auth}, f"{mock.base_url}/echo")
    with Target.from_file(path, seed=1) as target:
        first = echoed_headers(target.call("one"))
        second = echoed_headers(target.call("two"))
    verify(first, "app")
    assert first["x-signature"] == second["x-signature"]  # cached within its validity


def test_missing_key_file_is_a_load_error(mock: MockServer, tmp_path: Path) -> None:
    path = write_config(tmp_path, {**SIGNED, "signatureAuth": {"privateKeyPath": "nokey.pem"}}, mock.base_url)
    with pytest.raises(ConfigError, match=r"signatureAuth\.privateKeyPath.*nokey\.pem"):
        Target.from_file(path)


def _parts(response: Any) -> list[tuple[str | None, str | None, str | None, bytes]]:
    out = response["output"]
    head = f"Content-Type: {echoed_headers(response)['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + out["body"].encode())
    return [(p.get_param("name", header="content-disposition"), p.get_filename(), p.get("content-type"),
             p.get_payload(decode=True)) for p in msg.iter_parts()]


MULTIPART = {
    "headers": {"Content-Type": "application/json"},
    "multipart": {"parts": [
        {"kind": "field", "name": "question", "value": "{{prompt}}"},
        {"kind": "file", "name": "notes", "source": {"type": "path", "path": "upload/notes.txt"}},
        {"kind": "file", "name": "doc", "source": {"type": "generated", "text": "Hello {{prompt}}"}},
    ]},
}


def _upload_dir(tmp_path: Path) -> None:
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "notes.txt").write_text("line one\nline two: été\n", encoding="utf-8")


def test_multipart_upload_sync(mock: MockServer, tmp_path: Path) -> None:
    _upload_dir(tmp_path)
    path = write_config(tmp_path, MULTIPART, f"{mock.base_url}/echo")
    with Target.from_file(path, seed=3) as target:
        response = target.call("what is this?")
    assert response["output"]["method"] == "POST"
    headers = echoed_headers(response)
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    got = _parts(response)
    assert got[0] == ("question", None, None, b"what is this?")
    assert got[1] == ("notes", "notes.txt", "text/plain", "line one\nline two: été\n".encode())
    assert got[2][:3] == ("doc", "promptfoo-document.pdf", "application/pdf")
    assert got[2][3].startswith(b"%PDF-1.4") and b"(Hello what is this?) Tj" in got[2][3]


def test_multipart_upload_asyncio(mock: MockServer, tmp_path: Path) -> None:
    _upload_dir(tmp_path)
    path = write_config(tmp_path, MULTIPART, f"{mock.base_url}/echo")

    async def main() -> Any:
        target = AsyncTarget.from_file(path, seed=3)
        try:
            return await target.call("async?")
        finally:
            await target.aclose()

    response = asyncio.run(main())
    assert _parts(response)[0] == ("question", None, None, b"async?")
    assert json.loads(json.dumps(response["output"]["headers"]))  # echoed as received


def test_missing_upload_file_is_a_load_error(mock: MockServer, tmp_path: Path) -> None:
    path = write_config(tmp_path, MULTIPART, f"{mock.base_url}/echo")
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        Target.from_file(path)
