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


def test_values_too_short_to_look_like_keys_are_never_redacted() -> None:
    import itertools
    import re

    from sansio_core import redaction

    pattern = redaction._SECRET_VALUE
    # The shortest text the pattern matches is _SHORTEST_SECRET_VALUE long.
    assert pattern.match("sk-" + "a" * 8) and not pattern.match("sk-" + "a" * 7)
    assert redaction.sanitize("sk-" + "a" * 8) == REDACTED
    assert redaction.sanitize("sk-" + "a" * 8 + "\n") == REDACTED
    shortest = min(len(m.group(0)) for m in (
        re.fullmatch(r".*", text) for text in ("sk-12345678", "Basic " + "x" * 20, "AKIA" + "A" * 16,
                                              "AIza" + "a" * 30, "a" * 64)) if m)
    assert shortest == redaction._SHORTEST_SECRET_VALUE
    for n in range(redaction._SHORTEST_SECRET_VALUE):
        for text in ("sk-" + "1" * max(0, n - 3), "a" * n, "".join(itertools.islice(itertools.cycle("sk-1\n"), n))):
            assert not pattern.match(text), text
