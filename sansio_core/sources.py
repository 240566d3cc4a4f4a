"""Files and environment a target is built from, read by the binding and handed in.

promptfoo configs point at files with ``file://`` strings (transform modules,
raw requests, body values). The core cannot open files, so building a target
is two-phase: the binding walks the config with ``find_file_refs``, reads
the files it names (and imports ``.py`` modules), and passes the results as
a ``Sources``. The core then resolves references from that mapping only.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

FILE_PREFIX = "file://"
# Extensions after which a ``:name`` suffix selects a function (promptfoo
# splits at the last colon only for code files).
CODE_EXTENSIONS = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py")


@dataclass(frozen=True)
class Sources:
    """What the binding read for a target.

    ``files`` maps a reference's path (as written after ``file://``, without
    any ``:name``) to its bytes. ``python`` maps a full ``file://x.py[:fn]``
    reference to the callable it names. ``env`` is the environment the
    templates' ``env`` global and the ``PROMPTFOO_*`` switches read.
    ``base_dir`` is the config's directory, for messages.
    """

    files: Mapping[str, bytes] = field(default_factory=dict)
    python: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    base_dir: str = "."

    def file_text(self, path: str) -> str:
        """The text of a referenced file; KeyError if the binding did not load it."""
        return self.files[path].decode("utf-8")


def split_file_ref(ref: str) -> tuple[str, str | None]:
    """``file://path.js:name`` -> (``path.js``, ``name``); other files keep their colons."""
    body = ref[len(FILE_PREFIX):] if ref.startswith(FILE_PREFIX) else ref
    head, sep, tail = body.rpartition(":")
    if sep and head.lower().endswith(CODE_EXTENSIONS) and tail and "/" not in tail:
        return head, tail
    return body, None


def find_file_refs(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every ``file://`` string anywhere in a config value, with the key path
    that leads to it (list indexes are not part of the path; keys are not searched)."""
    if isinstance(value, str):
        if value.startswith(FILE_PREFIX):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from find_file_refs(item, (*path, str(key)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from find_file_refs(item, path)


def resolve_path(base_dir: str, path: str) -> str:
    """Where a relative reference points, as promptfoo resolves it (config directory)."""
    return path if posixpath.isabs(path) else posixpath.normpath(posixpath.join(base_dir, path))


__all__ = ["FILE_PREFIX", "Sources", "find_file_refs", "resolve_path", "split_file_ref"]
