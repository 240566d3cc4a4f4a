"""Argument rules shared by the CLI's commands (``call``, ``call --dry-run``, ``eval``)."""

from __future__ import annotations

import argparse
import json
from typing import Any


class UsageError(Exception):
    pass


def parse_vars(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.vars:
        try:
            loaded = json.loads(args.vars)
        except ValueError as exc:
            raise UsageError(f"--vars is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError("--vars must be a JSON object")
        out.update(loaded)
    for item in args.var:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--var expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


__all__ = ["UsageError", "parse_vars"]
