"""``promptwire mock``: run the mock server in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from collections.abc import Sequence

from ._server import NotLoopbackError, loopback_host, serve

DEFAULT_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptwire mock",
        description="Serve the promptwire mock LLM endpoints (HTTP and WebSocket) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for any free one (default {DEFAULT_PORT})")
    parser.add_argument("--certfile", help="PEM certificate chain: serve https:// and wss://")
    parser.add_argument("--keyfile", help="PEM private key for --certfile")
    return parser


def main_mock(argv: Sequence[str] | None = None) -> int:
    """Body of ``promptwire mock``; ``argv`` holds the arguments after ``mock``.

    Returns 0 after Ctrl-C, 2 for a usage error (including a non-loopback
    host), 1 when the server cannot start (port in use, bad certificate).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return 0 if exc.code == 0 else 2
    try:
        host = loopback_host(args.host)
    except NotLoopbackError as exc:
        print(f"promptwire mock: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"promptwire mock: --port {args.port} is not a TCP port", file=sys.stderr)
        return 2
    if bool(args.certfile) != bool(args.keyfile):
        print("promptwire mock: --certfile and --keyfile go together", file=sys.stderr)
        return 2
    tls = None
    if args.certfile:
        try:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(args.certfile, args.keyfile)
        except (OSError, ssl.SSLError) as exc:
            print(f"promptwire mock: cannot load the certificate: {exc}", file=sys.stderr)
            return 1

    def ready(port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        scheme, ws_scheme = ("https", "wss") if tls else ("http", "ws")
        print(f"promptwire mock server listening on {scheme}://{shown}:{port}", flush=True)
        print(f"  e.g. {scheme}://{shown}:{port}/v1/chat/completions  {ws_scheme}://{shown}:{port}/ws/echo-json",
              flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    try:
        asyncio.run(serve(host, args.port, ready=ready, tls=tls))
    except KeyboardInterrupt:
        print("promptwire mock: stopped", file=sys.stderr)
        return 0
    except OSError as exc:
        print(f"promptwire mock: cannot listen on {host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_mock())
