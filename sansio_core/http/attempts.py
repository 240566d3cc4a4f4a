"""The attempt loop every HTTP exchange shares: try, ask the retry policy, sleep, try again.

An attempt is a sub-flow that returns ``(outcome, result, failure)``: the
``Outcome`` the policy judges (``None`` for a response the policy always
accepts, see ``retry.never_retried``: no bookkeeping for a 200), the value to hand back when the policy accepts
it (``None`` for a failed attempt) and the transport error, if any. The main
request and the pre-steps' requests (session endpoint, ...) use the same
loop, so retries, ``Sleep`` and the final error read the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

from .. import actions as A
from .. import events as E
from ..call import CallContext
from ..errors import PromptwireError, RemoteProtocolError, TransportError
from .retry import Outcome, RetryPolicy, decide, exhausted_error, short_reason

T = TypeVar("T")
AttemptFlow = Generator[A.Action, "E.Event | None", tuple[Outcome | None, T | None, PromptwireError | None]]
AttemptResult = tuple[Outcome | None, T | None, PromptwireError | None]

# What an exchange raises that the retry policy judges (everything else ends the call).
ATTEMPT_ERRORS = (TransportError, RemoteProtocolError)


def failed_attempt(err: TransportError | RemoteProtocolError) -> AttemptResult[T]:
    """The ``(outcome, result, failure)`` of an attempt whose exchange raised ``err``."""
    started = bool(getattr(err, "response_started", False))
    reused = bool(getattr(err, "reused", False))
    return Outcome.from_error(err, response_started=started, reused=reused), None, err


def run_attempts(
    ctx: CallContext,
    policy: RetryPolicy,
    attempt: Callable[[], AttemptFlow[T]],
    *,
    veto: Callable[[], str | None] | None = None,
    deadline: float | None = None,
    first: AttemptResult[T] | None = None,
) -> Generator[A.Action, E.Event | None, tuple[T, int]]:
    """Run ``attempt`` until the policy accepts a result; returns it and the attempt count.

    ``deadline`` (absolute monotonic): no retry is made that could not start before it.

    ``veto`` may forbid retrying a failed attempt (it returns the reason), e.g.
    when part of that attempt's text already reached the caller.

    ``first``: the result of the first attempt when the caller already ran it.
    """
    history: list[str] = []
    counted = 0
    while True:
        if first is not None:
            (outcome, result, failure), first = first, None
        else:
            outcome, result, failure = yield from attempt()
        if outcome is None and result is not None:
            return result, len(history) + 1
        assert outcome is not None
        decision = decide(policy, counted, outcome, ctx.now, ctx.rng, history=history, deadline=deadline)
        if decision.retry:
            why_not = veto() if veto is not None and failure is not None else None
            if why_not:
                raise exhausted_error(policy, [*history, f"{failure}; not retried: {why_not}"]) from failure
            history.append(decision.reason)
            note = A.RetryNote(counted + 1, policy.max_retries + 1, short_reason(outcome), decision.delay_s)
            if decision.counts:
                counted += 1
            if decision.delay_s > 0:
                yield A.Sleep(ctx.now.mono + decision.delay_s, note)
            continue
        if decision.final_error is not None:
            raise decision.final_error
        if result is None:  # a failure the policy did not turn into an error
            raise exhausted_error(policy, [*history, decision.reason])
        return result, len(history) + 1


__all__ = ["ATTEMPT_ERRORS", "AttemptFlow", "AttemptResult", "failed_attempt", "run_attempts"]
