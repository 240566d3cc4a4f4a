"""``Secrets``: the by-value rule over nested data, and credentials learned per call."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sansio_core.redaction import REDACTED, Secrets, basic_token


def test_redact_data_walks_every_kind_of_value() -> None:
    secrets = Secrets(["sk-secret-value"])
    data: dict[str, Any] = {
        "http": {"status": 200, "statusText": "OK sk-secret-value", "ok": True, "none": None, "f": 1.5,
                 "headers": {"x-echo": "a sk-secret-value b", "sk-secret-value": "key"}},
        "list": ["sk-secret-value", 1, ("t", "sk-secret-value")],
        "mapping": OrderedDict(a="sk-secret-value"),
        "other": b"sk-secret-value",
    }
    assert secrets.redact_data(data) == {
        "http": {"status": 200, "statusText": f"OK {REDACTED}", "ok": True, "none": None, "f": 1.5,
                 "headers": {"x-echo": f"a {REDACTED} b", REDACTED: "key"}},
        "list": [REDACTED, 1, ["t", REDACTED]],
        "mapping": {"a": REDACTED},
        "other": b"sk-secret-value",  # not text: left as it is
    }
    assert Secrets().redact_data(data) is data


def test_learned_credentials_are_redacted_every_time() -> None:
    secrets = Secrets()
    token = basic_token("user", "pa55word")
    for _ in range(2):  # the second call finds the credential's parts remembered
        secrets.learn([f"Basic {token}", "Bearer tok-12345"])
        assert secrets.redact(f"{token} pa55word tok-12345 Bearer") == f"{REDACTED} {REDACTED} {REDACTED} Bearer"
