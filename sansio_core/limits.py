"""Every size, count and time limit of the core, in one place, each with its reason.

A limit that is exceeded raises ``LimitExceeded`` (a remote error: the server
sent too much) or ``ConfigError`` (the config asked for too much). All can be
overridden per target through ``Limits``.
"""

from __future__ import annotations

from dataclasses import dataclass

# HTTP/1.1 response head (status line + headers). h11 defaults to 16 KiB, which
# httpcore found too small for real servers (CHANGELOG #647) and raised to
# 100 KiB; cloud gateways add large cookie and tracing headers.
MAX_RESPONSE_HEAD = 100 * 1024

# A response body kept in memory for transforms. LLM answers are small; a
# misbehaving server must not exhaust memory. 64 MiB is far above any chat
# completion yet bounded.
MAX_RESPONSE_BODY = 64 * 1024 * 1024

# Decoded size cap for gzip/deflate bodies (a compression bomb is an error).
MAX_DECODED_BODY = MAX_RESPONSE_BODY

# One receive from a socket: matches typical kernel socket buffers.
READ_CHUNK = 64 * 1024

# Files the core asks for through ``Load`` (keys, CA bundles, uploads).
MAX_LOAD_BYTES = 32 * 1024 * 1024

# One server-sent event / one NDJSON line. OpenAI chunks are < 4 KiB; 1 MiB
# leaves room for tool-call arguments while stopping unbounded lines.
MAX_SSE_EVENT = 1024 * 1024
MAX_NDJSON_LINE = 1024 * 1024

# One reassembled WebSocket message (trio-websocket defaults to 1 MiB and
# closes with 1009; LLM streams can send a whole answer in one message).
MAX_WS_MESSAGE = 16 * 1024 * 1024

# Rendered request pieces: a template that expands without bound is a bug.
MAX_RENDERED_TEMPLATE = 32 * 1024 * 1024

# Default request timeout, promptfoo's REQUEST_TIMEOUT_MS default.
DEFAULT_TIMEOUT_MS = 300_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-target overrides of the module defaults."""

    max_response_head: int = MAX_RESPONSE_HEAD
    max_response_body: int = MAX_RESPONSE_BODY
    max_decoded_body: int = MAX_DECODED_BODY
    read_chunk: int = READ_CHUNK
    max_load_bytes: int = MAX_LOAD_BYTES
    max_sse_event: int = MAX_SSE_EVENT
    max_ndjson_line: int = MAX_NDJSON_LINE
    max_ws_message: int = MAX_WS_MESSAGE
    max_rendered_template: int = MAX_RENDERED_TEMPLATE
