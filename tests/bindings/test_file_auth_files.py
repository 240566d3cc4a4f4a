"""``auth.type: file`` with real files next to a config: the loader reads/imports them
(``file://`` or a plain path), the token reaches the mock server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from promptwire.api import Target
from promptwire.mock import MockServer

from sansio_core.errors import ConfigError

AUTH_JS = """
module.exports = async function (context) {
  return { token: 'file-token-' + context.vars.user, expiration: 4102444800000 };
};
"""
AUTH_PY = """
def get_auth(context):
    return {"token": "py-token-" + context["vars"]["user"], "expiration": None}

def other(context):
    return {"token": "other"}
"""


def write(tmp_path: Path, mock: MockServer, path: str) -> Path:
    (tmp_path / "auth").mkdir(exist_ok=True)
    (tmp_path / "auth" / "auth.js").write_text(AUTH_JS)
    (tmp_path / "auth" / "auth_py.py").write_text(AUTH_PY)
    config = {"id": f"{mock.base_url}/echo", "config": {
        "method": "GET", "headers": {"Authorization": "Bearer {{token}}"},
        "auth": {"type": "file", "path": path}}}
    file = tmp_path / "promptwire.yaml"
    file.write_text(yaml.safe_dump({"providers": [config]}))
    return file


def authorization(response: Any) -> str:
    return dict(response["output"]["headers"])["authorization"]


@pytest.mark.parametrize(("path", "expected"), [
    ("file://auth/auth.js", "Bearer file-token-u7"),
    ("./auth/auth.js", "Bearer file-token-u7"),
    ("auth/auth_py.py", "Bearer py-token-u7"),
    ("file://auth/auth_py.py:other", "Bearer other"),
])
def test_auth_file_next_to_the_config(mock: MockServer, tmp_path: Path, path: str, expected: str) -> None:
    with Target.from_file(write(tmp_path, mock, path)) as target:
        assert authorization(target.call("hi", vars={"user": "u7"})) == expected


def test_missing_auth_file_is_a_load_error(mock: MockServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.file.*nothere\.py"):
        Target.from_file(write(tmp_path, mock, "nothere.py"))
