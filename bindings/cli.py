"""``promptwire``: call a target, run an eval or a load test, run the mock server, or run the demo.

Exit codes: 0 success; 1 the response carries an error or the call raised;
2 usage or configuration errors. A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sansio_core._version import __version__
from sansio_core.errors import ConfigError, LocalError, LocalProtocolError, PromptwireError
from sansio_core.response import ProviderResponse

from . import jsontext
from .cli_args import UsageError, parse_vars

EXIT_OK, EXIT_CALL_FAILED, EXIT_USAGE = 0, 1, 2
MOCK_PORT = 8765  # bindings/mock/cli.py's DEFAULT_PORT; docs/mock-server.md


class _Scrub:
    """The built target's ``redact``, for the few lines the CLI prints itself (an
    internal error's text could quote anything)."""

    redact: Callable[[str], str] = staticmethod(lambda text: text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promptwire",
        description="Send prompts to LLM endpoints over HTTP and WebSocket exactly as promptfoo's "
                    "http/https and ws/wss providers do.",
    )
    p.add_argument("--version", action="version", version=f"promptwire {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("call", help="call a provider from a config file",
                       description="Call one provider entry of a promptfoo-style config and print the "
                                   "ProviderResponse.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n"
                              "  promptwire call --config promptfooconfig.yaml --provider my-api "
                              "--prompt 'Hello' --var user=Ada\n"
                              "  promptwire call --config target.json --calls calls.jsonl --json\n\n"
                              "exit status: 0 success, 1 the response has an error or the call raised, "
                              "2 usage or configuration error.\n"
                              "environment: REQUEST_TIMEOUT_MS, PROMPTFOO_REQUEST_BACKOFF_MS, "
                              "PROMPTFOO_RETRY_5XX, PROMPTWIRE_BINDING,\n"
                              "  PROMPTWIRE_{CONNECT,FIRST_BYTE,IDLE}_TIMEOUT_MS (docs/cli.md).")
    c.add_argument("--config", required=True, metavar="FILE",
                   help="YAML or JSON: one provider entry, a list of them, or a promptfoo config with "
                        "`providers:`")
    c.add_argument("--provider", metavar="ID_OR_LABEL", help="which provider, when the file holds several")
    c.add_argument("--prompt", help="the prompt text")
    c.add_argument("--vars", metavar="JSON", help="test variables as a JSON object")
    c.add_argument("--var", action="append", default=[], metavar="KEY=VALUE",
                   help="one variable (repeatable; wins over --vars)")
    c.add_argument("--calls", metavar="FILE.jsonl",
                   help="several calls, one JSON object per line {prompt, vars, context}, run in order "
                        "on one target (sharing its caches); prints one JSON document per call")
    c.add_argument("--binding", choices=("sync", "asyncio", "trio"),
                   default=os.environ.get("PROMPTWIRE_BINDING", "sync"),
                   help="which I/O binding runs the call (default: $PROMPTWIRE_BINDING or sync)")
    c.add_argument("--timeout-ms", type=float, metavar="MS", help="override the request timeout")
    c.add_argument("--stream", action="store_true",
                   help="print the text of a streamed answer (SSE / NDJSON) as it arrives (to stderr "
                        "with --json, so stdout stays one JSON document)")
    c.add_argument("--record", metavar="CASSETTE",
                   help="call the live target and write each call to this cassette file (docs/replay.md)")
    c.add_argument("--record-mode", choices=("once", "new_episodes", "all"), default="all",
                   help="with --record: all (default) rewrites the file with this run's calls, new_episodes "
                        "replays known calls and appends new ones, once records only a missing file")
    c.add_argument("--replay", metavar="CASSETTE",
                   help="answer every call from this cassette, with no network; a call it does not hold "
                        "fails (exit 1) with the closest recorded request and the difference")
    c.add_argument("--json", action="store_true",
                   help="print the ProviderResponse as JSON (promptfoo's camelCase keys); "
                        "{\"thrown\": message} when the call raised")

    c.add_argument("--dry-run", action="store_true",
                   help="print the request as it would go out (secrets redacted) and send nothing")

    from .bench import add_parser as add_bench_parser
    from .eval.command import add_parser as add_eval_parser

    add_eval_parser(sub)
    add_bench_parser(sub)

    k = sub.add_parser("cassette", help="inspect a cassette file",
                       description="Work with cassettes written by --record or the pytest plugin.")
    ksub = k.add_subparsers(dest="cassette_command", metavar="ACTION")
    ks = ksub.add_parser("show", help="print each recorded exchange: requests, responses or frames, timing")
    ks.add_argument("cassette", metavar="CASSETTE")
    ks.add_argument("--lines", type=int, default=24, metavar="N", help="body lines shown per message (default 24)")

    m = sub.add_parser("mock", help="run the embedded mock LLM server on loopback",
                       description="Serve OpenAI-style, echo, status, streaming, fault and WebSocket "
                                   "endpoints on 127.0.0.1 (see docs/mock-server.md).")
    m.add_argument("--port", type=int, default=MOCK_PORT, help=f"port (0 picks a free one; default {MOCK_PORT})")
    m.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    m.add_argument("--certfile", help="PEM certificate chain: serve https:// and wss://")
    m.add_argument("--keyfile", help="PEM private key for --certfile")

    d = sub.add_parser("demo", help="run the example configs against the mock server",
                       description="Start the mock server on a free loopback port, call every example "
                                   "config in docs/examples/ and print prompt, output and latency.")
    d.add_argument("--binding", choices=("sync", "asyncio", "trio"), default="sync")
    d.add_argument("--examples", metavar="DIR", help="directory of example configs (default: docs/examples)")
    return p


# -- call ---------------------------------------------------------------------------


def _read_calls(path: str) -> list[dict[str, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read --calls file {path}: {exc.strerror or exc}") from None
    calls = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{path}:{n}: not valid JSON: {exc}") from None
        if not isinstance(item, dict) or not isinstance(item.get("prompt", ""), str):
            raise UsageError(f"{path}:{n}: expected an object with a string \"prompt\"")
        calls.append(item)
    return calls


Outcome = ProviderResponse | PromptwireError


def _run_calls(target_factory: Callable[[], Any], binding: str, calls: list[dict[str, Any]],
               timeout_ms: float | None) -> list[Outcome]:
    if binding == "sync":
        target = target_factory()
        out: list[Outcome] = []
        with target:
            for c in calls:
                try:
                    out.append(target.call(c.get("prompt", ""), c.get("vars") or {}, c.get("context"),
                                           timeout_ms=timeout_ms))
                except PromptwireError as exc:
                    out.append(exc)
                except Exception as exc:  # a bug of ours: still one outcome per call
                    out.append(_internal(exc))
        return out

    async def run_async() -> list[Outcome]:
        target = target_factory()
        results: list[Outcome] = []
        try:
            for c in calls:
                try:
                    results.append(await target.call(c.get("prompt", ""), c.get("vars") or {},
                                                     c.get("context"), timeout_ms=timeout_ms))
                except PromptwireError as exc:
                    results.append(exc)
                except Exception as exc:
                    results.append(_internal(exc))
        finally:
            await target.aclose()
        return results

    if binding == "trio":
        import trio

        return trio.run(run_async)
    import asyncio

    return asyncio.run(run_async())


def _stream_one(target: Any, binding: str, call: dict[str, Any], timeout_ms: float | None,
                sink: Any) -> Outcome:
    """One call through ``stream()``: deltas go to ``sink`` as they arrive."""
    def show(item: Any, result: list[Outcome]) -> None:
        if isinstance(item, str):
            sink.write(item)
            sink.flush()
        else:
            result.append(item)

    prompt, vars_ = call.get("prompt", ""), call.get("vars") or {}
    result: list[Outcome] = []
    if binding == "sync":
        try:
            for item in target.stream(prompt, vars_, timeout_ms=timeout_ms):
                show(item, result)
        except PromptwireError as exc:
            result.append(exc)
        except Exception as exc:
            result.append(_internal(exc))
        finally:
            target.close()
        return result[-1]

    async def run_async() -> None:
        try:
            async for item in target.stream(prompt, vars_, timeout_ms=timeout_ms):
                show(item, result)
        except PromptwireError as exc:
            result.append(exc)
        except Exception as exc:
            result.append(_internal(exc))
        finally:
            await target.aclose()

    if binding == "trio":
        import trio

        trio.run(run_async)
    else:
        import asyncio

        asyncio.run(run_async())
    return result[-1]


def _json_default(value: Any) -> Any:
    return repr(value)


def _internal(exc: BaseException) -> PromptwireError:
    """An unexpected exception during a call, as the call's outcome (reported, not raised)."""
    if os.environ.get("PROMPTWIRE_DEBUG"):
        raise exc
    err = LocalProtocolError(f"internal error ({type(exc).__name__}: {str(exc)[:500]}); "
                             "set PROMPTWIRE_DEBUG=1 for the traceback and please report it")
    err.__cause__ = exc
    return err


def _document(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, PromptwireError):
        return {"thrown": str(outcome)}
    return dict(outcome)


def _json_line(doc: Any) -> str:
    """One JSON document on one line, whatever the value holds."""
    try:
        return jsontext.dumps(doc, default=_json_default) + "\n"
    except (ValueError, TypeError, RecursionError) as exc:
        return json.dumps({"thrown": f"internal error: the result cannot be written as JSON "
                                     f"({type(exc).__name__}: {exc})"}) + "\n"


def _print_summary(outcome: Outcome, prompt: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if isinstance(outcome, PromptwireError):
        console.print(f"[bold red]error[/] ({outcome.category}): {escape(str(outcome))}", markup=True,
                      highlight=False)
        return
    table = Table(show_header=False, box=None)
    table.add_row("prompt", prompt)
    if outcome.get("error") is not None:
        table.add_row("[red]error[/]", str(outcome["error"]))
    if "output" in outcome:
        out = outcome["output"]
        table.add_row("output", out if isinstance(out, str) else jsontext.dumps(out, default=_json_default))
    http = outcome.metadata.get("http") if isinstance(outcome.metadata, dict) else None
    if isinstance(http, dict) and "status" in http:
        table.add_row("status", f"{http.get('status')} {http.get('statusText', '')}")
    if outcome.latency_ms is not None:
        table.add_row("latency", f"{outcome.latency_ms:.0f} ms")
    if outcome.get("sessionId"):
        table.add_row("sessionId", str(outcome["sessionId"]))
    if outcome.get("tokenUsage"):
        table.add_row("tokens", json.dumps(outcome["tokenUsage"]))
    console.print(table)


def _log_to_stderr() -> None:
    """Retries and other notices (logger ``promptwire``) go to stderr, one line each."""
    logger = logging.getLogger("promptwire")
    if not any(getattr(h, "promptwire_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.promptwire_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def _failed(outcome: Outcome) -> bool:
    return isinstance(outcome, PromptwireError) or outcome.get("error") not in (None, "")


def cmd_call(args: argparse.Namespace) -> int:
    from .api import AsyncTarget, Target

    if args.dry_run:
        from .dry_run import cmd_dry_run

        return cmd_dry_run(args)
    if args.calls:
        if args.prompt is not None or args.vars or args.var:
            raise UsageError("--calls cannot be combined with --prompt/--vars/--var")
        calls = _read_calls(args.calls)
    else:
        if args.prompt is None:
            raise UsageError("call needs --prompt TEXT (or --calls FILE.jsonl)")
        calls = [{"prompt": args.prompt, "vars": parse_vars(args)}]
    if args.stream and args.calls:
        raise UsageError("--stream takes one --prompt, not --calls")
    cls = Target if args.binding == "sync" else AsyncTarget
    _log_to_stderr()
    if args.record and args.replay:
        raise UsageError("--record and --replay cannot be combined")
    if args.replay and not Path(args.replay).is_file():
        raise UsageError(f"--replay: no cassette file {args.replay}")
    # Build (and validate) before any call, so config errors exit 2 with no output.
    built = cls.from_file(args.config, provider=args.provider)
    _Scrub.redact = built.redact
    if args.record:
        built.use_cassette(args.record, record_mode=args.record_mode)
    elif args.replay:
        built.use_cassette(args.replay, record_mode="none")
    if args.stream:
        sink = sys.stderr if args.json else sys.stdout
        outcomes = [_stream_one(built, args.binding, calls[0], args.timeout_ms, sink)]
        sink.write("\n")
    else:
        outcomes = _run_calls(lambda: built, args.binding, calls, args.timeout_ms)
    for call, outcome in zip(calls, outcomes, strict=True):
        if args.json:
            sys.stdout.write(_json_line(_document(outcome)))
            args.json_written = True
        else:
            _print_summary(outcome, call.get("prompt", ""))
    sys.stdout.flush()
    return EXIT_CALL_FAILED if any(_failed(o) for o in outcomes) else EXIT_OK


def cmd_cassette(args: argparse.Namespace) -> int:
    from .cassette import CassetteError
    from .cassette.show import show

    if args.cassette_command != "show":
        raise UsageError("cassette needs an action: show CASSETTE")
    try:
        sys.stdout.write(show(args.cassette, max_lines=max(1, args.lines)))
    except CassetteError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_mock(args: argparse.Namespace) -> int:
    from .mock import main_mock

    argv = ["--port", str(args.port), "--host", args.host]
    for flag, value in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if value:
            argv += [flag, value]
    return main_mock(argv)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(binding=args.binding, examples=args.examples)


def _tolerant_streams() -> None:
    """A server's text may hold a lone surrogate; printing it shows its escape
    instead of failing the command (JSON output escapes it already)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a detached or odd stream
                pass


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    parser = _parser()
    args = parser.parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "call": cmd_call, "mock": cmd_mock, "demo": cmd_demo, "cassette": cmd_cassette,
    }
    from .bench import cmd_bench
    from .eval.command import cmd_eval

    commands.update(eval=cmd_eval, bench=cmd_bench)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _run_command(commands[args.command], args)
    except UsageError as exc:
        print(f"promptwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"promptwire: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LocalError as exc:
        print(f"promptwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: say so in one line unless debugging
        if os.environ.get("PROMPTWIRE_DEBUG"):
            raise
        print(f"promptwire: internal error ({type(exc).__name__}: {_Scrub.redact(str(exc))}); "
              "set PROMPTWIRE_DEBUG=1 for the traceback and please report it", file=sys.stderr)
        return EXIT_CALL_FAILED


def _run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """With ``--json``, stdout holds a JSON document whatever happens: an error that
    ends the command before any result was written is written as ``{"thrown": ...}``."""
    try:
        return command(args)
    except BaseException as exc:
        if getattr(args, "json", False) and not getattr(args, "json_written", False):
            if isinstance(exc, (PromptwireError, UsageError)):
                text = str(exc)
            elif isinstance(exc, KeyboardInterrupt):
                text = "interrupted"
            else:
                text = f"internal error ({type(exc).__name__}: {str(exc)[:500]})"
            sys.stdout.write(_json_line({"thrown": text}))
            sys.stdout.flush()
            args.json_written = True
        raise


def _entry() -> None:  # pragma: no cover
    sys.exit(main())


__all__ = ["main"]
