"""Reading a config file into core inputs: the entries, the files they name, the env.

The core cannot open files, so everything a target refers to is read here,
relative to the config file's directory (as promptfoo resolves it), bounded
in size, and handed over as ``Sources``: ``file://`` references and Python
hooks by ``code_loader``, TLS key and certificate paths here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sansio_core.auth.signature import file_paths as signature_file_paths
from sansio_core.config.provider import ProviderEntry
from sansio_core.config.tls import ENV_CA_PATH, TLS_PATH_KEYS
from sansio_core.errors import ConfigError
from sansio_core.http.multipart import path_sources as multipart_path_sources
from sansio_core.limits import MAX_LOAD_BYTES
from sansio_core.sources import Sources, resolve_path
from sansio_core.templating import has_tags


def read_document(path: str | os.PathLike[str]) -> Any:
    """Parse a YAML or JSON config file; a clear ConfigError for anything wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p} is not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {exc}") from None


def load_sources(entry: ProviderEntry, base_dir: str, env: Mapping[str, str] | None = None) -> Sources:
    """Read every file an entry refers to (``file://`` values, TLS, signature key and multipart
    upload paths) and import its Python hooks."""
    from .code_loader import load_sources as load_code_sources

    env = dict(os.environ if env is None else env)
    sources = load_code_sources(entry.raw_config, base_dir, env, websocket=entry.kind == "websocket")
    files = dict(sources.files)
    tls = entry.raw_config.get("tls")
    if isinstance(tls, Mapping):
        for key in TLS_PATH_KEYS:
            path = tls.get(key)
            if isinstance(path, str) and path not in files:
                files[path] = _read(resolve_path(base_dir, path), f"tls.{key}")
    ca_path = (env.get(ENV_CA_PATH) or "").strip()
    if ca_path and not isinstance(tls, Mapping) and ca_path not in files:
        # promptfoo's extra CA for targets without a tls block; relative to the working directory.
        files[ca_path] = _read(os.path.abspath(ca_path), ENV_CA_PATH)
    for option, path in signature_file_paths(entry.raw_config.get("signatureAuth")):
        if path not in files:
            files[path] = _read(resolve_path(base_dir, path), f"signatureAuth.{option}")
    for path in multipart_path_sources(entry.raw_config.get("multipart")):
        if path not in files and not has_tags(path):  # a templated path is refused by the core
            files[path] = _read(resolve_path(base_dir, path), "multipart file source.path")
    return Sources(files=files, python=sources.python, env=env, base_dir=base_dir)


def _read(full: str, what: str) -> bytes:
    try:
        with open(full, "rb") as f:
            data = f.read(MAX_LOAD_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} (resolved to {full}): {exc.strerror or exc}") from None
    if len(data) > MAX_LOAD_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_LOAD_BYTES} bytes")
    return data
