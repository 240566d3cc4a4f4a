"""One call through the public API of a binding: the response, or the exception it raised."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import trio
from promptwire import AsyncTarget, Target


def call_api(binding: str, entry: Any, prompt: str = "hi", *, vars: dict[str, Any] | None = None,
             context: dict[str, Any] | None = None, base_dir: str | Path = ".",
             env: dict[str, str] | None = None, timeout_ms: float | None = None) -> Any:
    if binding == "sync":
        try:
            with Target.from_config(entry, base_dir=base_dir, env=env or {}) as target:
                return target.call(prompt, vars, context, timeout_ms=timeout_ms)
        except Exception as exc:
            return exc

    async def main() -> Any:
        try:
            target = AsyncTarget.from_config(entry, base_dir=base_dir, env=env or {})
            try:
                return await target.call(prompt, vars, context, timeout_ms=timeout_ms)
            finally:
                await target.aclose()
        except Exception as exc:
            return exc

    return trio.run(main) if binding == "trio" else asyncio.run(main())
