"""Reading a config file into core inputs: the entries, the files they name, the env.

The core cannot open files, so everything a target refers to with
``file://`` is read here, relative to the config file's directory (as
promptfoo resolves it), bounded in size, and handed over as ``Sources``.
Python modules named by ``file://x.py[:fn]`` are imported by ``code_loader``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sansio_core.config import ProviderEntry
from sansio_core.errors import ConfigError
from sansio_core.limits import MAX_LOAD_BYTES
from sansio_core.sources import Sources, find_file_refs, resolve_path, split_file_ref


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
    """Read every ``file://`` file an entry refers to and import its Python hooks."""
    files: dict[str, bytes] = {}
    python_refs: list[str] = []
    for ref in find_file_refs(entry.raw_config):
        path, _name = split_file_ref(ref)
        if path.endswith(".py"):
            python_refs.append(ref)
            continue
        if path in files:
            continue
        files[path] = _read(resolve_path(base_dir, path), ref)
    tls = entry.raw_config.get("tls")
    if isinstance(tls, Mapping):
        for key in ("caPath", "certPath", "keyPath"):
            path = tls.get(key)
            if isinstance(path, str) and path not in files:
                files[path] = _read(resolve_path(base_dir, path), f"tls.{key}")
    python: dict[str, Any] = {}
    if python_refs:
        from .code_loader import load_python_refs

        python = dict(load_python_refs(python_refs, base_dir))
    return Sources(files=files, python=python, env=dict(os.environ if env is None else env), base_dir=base_dir)


def _read(full: str, what: str) -> bytes:
    try:
        with open(full, "rb") as f:
            data = f.read(MAX_LOAD_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} (resolved to {full}): {exc.strerror or exc}") from None
    if len(data) > MAX_LOAD_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_LOAD_BYTES} bytes")
    return data
