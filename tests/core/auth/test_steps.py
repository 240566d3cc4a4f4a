"""compile_pre_steps: which pre-steps an entry gets, and that they run in promptfoo's order."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sansio_core import actions as A
from sansio_core.auth.file import FileAuthStep
from sansio_core.auth.oauth import OAuthStep
from sansio_core.auth.session_endpoint import SessionEndpointStep
from sansio_core.auth.signature import SignatureStep
from sansio_core.auth.steps import compile_pre_steps
from sansio_core.config.provider import parse_provider_entry
from sansio_core.http.target import HttpTarget
from sansio_core.sources import Sources
from sansio_core.templating import TemplateEngine
from sansio_core.testing.h11_peer import SeenRequest, ServerReply, run_against
from sansio_core.timebase import Instant

BASE = "http://api.test"
T0 = Instant(10.0, 1_700_000_000.0)
KEY = ec.generate_private_key(ec.SECP256R1())
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
OAUTH = {"type": "oauth", "grantType": "client_credentials", "tokenUrl": f"{BASE}/oauth/token",
         "clientId": "cid", "clientSecret": "sec"}
SESSION = {"url": f"{BASE}/session", "method": "POST", "body": {"token": "{{token}}", "sig": "{{signature}}"},
           "responseParser": "data.body.id"}


def steps(config: dict[str, Any], sources: Sources | None = None) -> list[type]:
    entry = parse_provider_entry({"id": f"{BASE}/api", "config": config})
    return [type(s) for s in compile_pre_steps(entry, sources or Sources(), TemplateEngine())]


def test_no_auth_means_no_steps() -> None:
    assert steps({"headers": {"Authorization": "Bearer x"}}) == []
    assert steps({"auth": {"type": "bearer", "token": "t"}}) == []


def test_each_kind_of_step_in_order() -> None:
    assert steps({"auth": OAUTH, "signatureAuth": {"privateKey": KEY_PEM}, "session": SESSION}) == [
        OAuthStep, SignatureStep, SessionEndpointStep]
    file_auth = {"type": "file", "path": "file://auth.js"}
    assert steps({"auth": file_auth, "session": SESSION},
                 Sources(files={"auth.js": b"module.exports = () => ({token: 't'})"})) == [
        FileAuthStep, SessionEndpointStep]


def test_the_steps_run_before_the_request_and_each_sees_the_vars_of_the_one_before() -> None:
    seen: list[SeenRequest] = []

    def server(req: SeenRequest) -> ServerReply:
        seen.append(req)
        path = req.target.split("?")[0]
        body = {"/oauth/token": {"access_token": "AT", "expires_in": 3600}, "/session": {"id": "S-1"}}.get(
            path, {"ok": True})
        return ServerReply(200, [("content-type", "application/json")], json.dumps(body).encode())

    entry = parse_provider_entry({"id": f"{BASE}/api", "config": {
        "method": "POST", "body": {"q": "{{prompt}}", "s": "{{sessionId}}"},
        "auth": OAUTH, "signatureAuth": {"privateKey": KEY_PEM}, "session": SESSION}})
    target = HttpTarget.compile(entry, Sources())
    end, _ = run_against(target.new_call("hi", {}, None, now=T0, seed=1), server)
    assert isinstance(end, A.Complete), end
    assert [r.target.split("?")[0] for r in seen] == ["/oauth/token", "/session", "/api"]
    session_body = json.loads(seen[1].body)
    assert session_body["token"] == "AT" and base64.b64decode(session_body["sig"])[0] == 0x30
    assert json.loads(seen[2].body) == {"q": "hi", "s": "S-1"}
    assert dict(seen[2].headers)["authorization"] == "Bearer AT"
