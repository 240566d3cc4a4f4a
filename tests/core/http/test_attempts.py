"""The shared attempt loop: retry what the policy retries, sleep between, report every attempt."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from sansio_core import actions as A
from sansio_core.call import Call, CallContext, Flow
from sansio_core.errors import FailureKind, PromptwireError, RetriesExhausted, TransportError
from sansio_core.http.attempts import AttemptFlow, run_attempts
from sansio_core.http.retry import Outcome, RetryPolicy
from sansio_core.response import ProviderResponse
from sansio_core.testing.driver import Run, VirtualClock, drive
from sansio_core.testing.h11_peer import H11Peer, ServerReply
from sansio_core.timebase import Instant

T0 = Instant(20.0, 1_700_000_000.0)
Step = tuple[Outcome, str | None, PromptwireError | None]


def ok(text: str = "ok") -> Step:
    return Outcome.response(200, "OK", {}, text), text, None


def fails(kind: FailureKind, *, reused: bool = False) -> Step:
    err = TransportError(f"{kind.value} happened", kind, reused=reused)
    return Outcome.from_error(err, reused=reused), None, err


def run(steps: list[Step], policy: RetryPolicy, veto: str | None = None) -> Run:
    script: Iterator[Step] = iter(steps)

    def attempt() -> AttemptFlow[str]:
        yield from ()
        return next(script)

    def flow(ctx: CallContext) -> Flow:
        result, count = yield from run_attempts(ctx, policy, attempt,
                                                veto=(lambda: veto) if veto is not None else None)
        return ProviderResponse(output=result, attempts=count)

    call = Call(flow, CallContext(now=T0, rng=random.Random(0)))
    return drive(call, H11Peer(lambda r: ServerReply()), VirtualClock(T0))


POLICY = RetryPolicy(max_retries=2, backoff_base_ms=1000, jitter_ms=0)


def test_first_success_is_returned_without_sleeping() -> None:
    r = run([ok("first")], POLICY)
    assert isinstance(r.terminal, A.Complete) and r.terminal.response == {"output": "first", "attempts": 1}
    assert not any(isinstance(a, A.Sleep) for a in r.actions)


def test_failures_are_retried_with_backoff_on_the_virtual_clock() -> None:
    r = run([fails(FailureKind.REFUSED), fails(FailureKind.RESET), ok("third")], POLICY)
    assert isinstance(r.terminal, A.Complete) and r.terminal.response == {"output": "third", "attempts": 3}
    sleeps = [a for a in r.actions if isinstance(a, A.Sleep)]
    assert [s.until for s in sleeps] == [T0.mono + 1.0, T0.mono + 1.0 + 2.0]
    assert r.elapsed == pytest.approx(3.0)


def test_a_stale_pooled_connection_is_retried_at_once_and_does_not_use_up_an_attempt() -> None:
    r = run([fails(FailureKind.EOF, reused=True), fails(FailureKind.EOF), ok()],
            RetryPolicy(max_retries=1, backoff_base_ms=500, jitter_ms=0))
    assert isinstance(r.terminal, A.Complete) and r.terminal.response["attempts"] == 3
    assert [a.until for a in r.actions if isinstance(a, A.Sleep)] == [T0.mono + 0.5]


def test_when_attempts_run_out_every_reason_is_listed() -> None:
    r = run([fails(FailureKind.REFUSED)] * 3, POLICY)
    assert isinstance(r.terminal, A.Fail)
    err = r.terminal.error
    assert isinstance(err, RetriesExhausted)
    assert str(err).startswith("Request failed after 2 retries: connection refused: refused happened (3 attempts: #1 ")


def test_a_failure_that_is_not_retryable_is_raised_as_it_is() -> None:
    step = fails(FailureKind.TLS)
    r = run([step, ok()], POLICY)
    assert isinstance(r.terminal, A.Fail) and r.terminal.error is step[2]


def test_a_veto_stops_a_retry_and_says_why() -> None:
    r = run([fails(FailureKind.RESET), ok()], POLICY, veto="part of the text was already streamed")
    assert isinstance(r.terminal, A.Fail)
    err = r.terminal.error
    assert isinstance(err, RetriesExhausted)
    assert str(err) == ("Request failed after 0 retries: reset happened; not retried: part of the text was "
                        "already streamed")
    assert isinstance(err.__cause__, TransportError)


def test_an_empty_veto_allows_the_retry() -> None:
    r = run([fails(FailureKind.RESET), ok("again")], POLICY, veto="")
    assert isinstance(r.terminal, A.Complete) and r.terminal.response["output"] == "again"


def test_an_accepted_outcome_without_a_result_is_an_exhausted_error() -> None:
    r = run([(Outcome.response(200, "OK"), None, None)], POLICY)
    assert isinstance(r.terminal, A.Fail) and isinstance(r.terminal.error, RetriesExhausted)
    assert str(r.terminal.error).startswith("Request failed after 0 retries: ")


@pytest.mark.parametrize("steps", [
    [ok("first")],
    [fails(FailureKind.REFUSED), fails(FailureKind.RESET), ok("third")],
    [fails(FailureKind.EOF, reused=True), fails(FailureKind.EOF), ok()],
    [fails(FailureKind.REFUSED)] * 3,
    [fails(FailureKind.TLS), ok()],
    [(Outcome.response(200, "OK"), None, None)],
])
def test_a_first_attempt_run_by_the_caller_changes_nothing(steps: list[Step]) -> None:
    # The HTTP flow runs the first attempt itself (no run_attempts frame for a
    # plain 200) and hands its result in as `first`.
    def run_first(steps: list[Step]) -> Run:
        script: Iterator[Step] = iter(steps)

        def attempt() -> AttemptFlow[str]:
            yield from ()
            return next(script)

        def flow(ctx: CallContext) -> Flow:
            first = yield from attempt()
            result, count = yield from run_attempts(ctx, POLICY, attempt, first=first)
            return ProviderResponse(output=result, attempts=count)

        call = Call(flow, CallContext(now=T0, rng=random.Random(0)))
        return drive(call, H11Peer(lambda r: ServerReply()), VirtualClock(T0))

    inside, outside = run(steps, POLICY), run_first(steps)
    assert outside.actions[:-1] == inside.actions[:-1]
    assert type(outside.terminal) is type(inside.terminal)
    if isinstance(inside.terminal, A.Complete):
        assert isinstance(outside.terminal, A.Complete) and outside.terminal.response == inside.terminal.response
    else:
        assert isinstance(outside.terminal, A.Fail) and isinstance(inside.terminal, A.Fail)
        assert str(outside.terminal.error) == str(inside.terminal.error)
