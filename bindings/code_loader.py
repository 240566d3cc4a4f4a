"""Read what a config's ``file://`` references point at, for the pure core.

The core never opens files, so the binding does it once when a target is
built: every ``file://`` string in the config is read (relative to the
config's directory) into ``Sources.files``, and every ``file://x.py[:name]``
found under a code option is imported and its function put in
``Sources.python`` (under ``hooks.python_key(option, ref)`` and, for the first
option using it, the bare ref). Without ``:name`` the option's default function name is
used (``sansio_core.hooks.PY_DEFAULT_NAMES``: e.g. ``transform_response``, then
``get_transform``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sansio_core.auth.file import file_ref
from sansio_core.errors import ConfigError
from sansio_core.hooks import PY_DEFAULT_NAMES, python_key
from sansio_core.limits import MAX_LOAD_BYTES
from sansio_core.sources import FILE_PREFIX, Sources, find_file_refs, split_file_ref

# Where a code option sits in a config, as the key path the hooks know it by.
_OPTION_OF_PATH = {
    ("transformRequest",): "transformRequest",
    ("transformResponse",): "transformResponse",
    ("responseParser",): "responseParser",
    ("validateStatus",): "validateStatus",
    ("sessionParser",): "sessionParser",
    ("session", "responseParser"): "session.responseParser",
    ("streamResponse",): "ws.streamResponse",
    ("auth", "path"): "auth.file",
}


def _file_auth_ref(config: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """``auth.path`` of ``auth.type: file`` written without ``file://`` (a plain path is allowed there)."""
    auth = config.get("auth")
    if isinstance(auth, Mapping) and auth.get("type") == "file":
        path = auth.get("path")
        if isinstance(path, str) and path.strip() and not path.strip().startswith(FILE_PREFIX):
            yield ("auth", "path"), file_ref(path)


def _import_module(file: Path) -> Any:
    """Import a ``.py`` file under a private name, with its directory importable."""
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:16]
    name = f"promptwire_user_{file.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ConfigError(f"importing {file} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _python_function(ref: str, option: str, base: Path) -> Callable[..., Any]:
    path, name = split_file_ref(ref)
    file = (base / path).resolve()
    if not file.is_file():
        raise ConfigError(f"{ref}: no such file {file}", option)
    module = _import_module(file)
    names = (name,) if name else PY_DEFAULT_NAMES.get(option, ("get_transform",))
    for candidate in names:
        fn = getattr(module, candidate, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    raise ConfigError(f"{ref} defines no function named {' or '.join(names)}", option)


def load_sources(
    config: Mapping[str, Any],
    base_dir: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    websocket: bool = False,
    max_bytes: int = MAX_LOAD_BYTES,
) -> Sources:
    """Everything the core needs from disk for ``config`` (a provider's raw config).

    ``websocket`` selects the WebSocket meaning of ``transformResponse``.
    Missing files are a ``ConfigError`` naming the option and the resolved path.
    """
    base = Path(base_dir)
    files: dict[str, bytes] = {}
    python: dict[str, Callable[..., Any]] = {}
    for key_path, ref in itertools.chain(find_file_refs(config), _file_auth_ref(config)):
        option = _OPTION_OF_PATH.get(key_path[-2:]) or _OPTION_OF_PATH.get(key_path[-1:]) or ".".join(key_path)
        if websocket and option == "transformResponse":
            option = "ws.transformResponse"
        path, _ = split_file_ref(ref)
        if path.lower().endswith(".py") and option in PY_DEFAULT_NAMES:
            fn = _python_function(ref, option, base)
            python[python_key(option, ref)] = fn
            python.setdefault(ref, fn)
            continue
        if path in files:
            continue
        file = base / path
        try:
            with open(file, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise ConfigError(f"{ref}: cannot read {file}: {exc.strerror or exc}", option) from None
        if len(data) > max_bytes:
            raise ConfigError(f"{ref}: {file} is larger than {max_bytes} bytes", option)
        files[path] = data
    return Sources(files=files, python=python, env=dict(env or {}), base_dir=str(base))


__all__ = ["load_sources"]
