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

# Files the binding reads into ``Sources`` for a target (keys, CA bundles, uploads).
MAX_LOAD_BYTES = 32 * 1024 * 1024

# One server-sent event / one NDJSON line. OpenAI chunks are < 4 KiB; 1 MiB
# leaves room for tool-call arguments while stopping unbounded lines.
MAX_SSE_EVENT = 1024 * 1024
MAX_NDJSON_LINE = 1024 * 1024

# A server-sent event's `retry:` field is a reconnection hint in ms; anything
# above a day is nonsense and is ignored rather than stored (WHATWG only asks
# for ASCII digits, so the value would otherwise be unbounded).
MAX_SSE_RETRY_MS = 24 * 60 * 60 * 1000

# Longest wait a server may ask for (Retry-After, retry-after-ms, rate-limit
# reset headers) that a retry will honour. promptfoo waits whatever it is told,
# which lets one header stall an eval for hours; a longer ask fails the call
# at once with the wait in the message instead of hanging (user-asks H.20).
MAX_RETRY_AFTER_S = 600.0

# How much of a 429 body is searched for a hard-quota code. Error bodies are a
# few hundred bytes; parsing a 64 MiB body to find one code is not worth it.
MAX_RETRY_BODY_SCAN = 64 * 1024

# Retries of a transient 502/503/504/524 ("retried up to 3 times", docs,
# Transient Error Handling); maxRetries can only lower it.
MAX_TRANSIENT_RETRIES = 3

# One reassembled WebSocket message (trio-websocket defaults to 1 MiB and
# closes with 1009; LLM streams can send a whole answer in one message).
MAX_WS_MESSAGE = 16 * 1024 * 1024

# Time allowed to send our WebSocket close frame once a call has its result
# (or its deadline has passed): the frame is a few bytes, so this only bounds
# a peer that stopped reading. Seconds.
WS_CLOSE_GRACE = 0.5

# The WebSocket handshake response (status line + headers, and what a refusal
# sends before its body). wsproto hands the bytes to h11, whose own default is
# 16 KiB; the handshake crosses the same gateways as an HTTP response, so it
# gets the same allowance as ``MAX_RESPONSE_HEAD``, checked by us.
MAX_WS_HANDSHAKE = MAX_RESPONSE_HEAD

# How much of each server message an ``initMessages`` ``waitFor`` pattern is
# searched in. Acks (``READY``, ``{"type":"auth_ok"}``) are short; a bound keeps
# even a quadratic pattern (``.*ready.*``) on a 16 MiB hostile message fast.
MAX_WAIT_FOR_TEXT = 4096

# Nesting depth of JSON the server sends (bodies, SSE/NDJSON values, WebSocket
# messages, OAuth and session answers). Real API payloads nest a dozen levels;
# Python's parser recurses once per level and raises RecursionError near
# 1000 (fewer when called deep in a stack), QuickJS's JSON.parse overflows its
# 256 KiB stack a little past 1000, and our own encoders walk values
# recursively. 256 is 20x any real payload and leaves ample headroom below
# all three; deeper JSON is a LimitExceeded, checked without recursion before
# parsing.
MAX_JSON_DEPTH = 256

# Rendered request pieces: a template that expands without bound is a bug.
MAX_RENDERED_TEMPLATE = 32 * 1024 * 1024

# Work one template render may do, counted because the core cannot read a
# clock: each loop iteration, intercepted operator and call is one unit.
# Real request templates do tens to thousands (a loop over a conversation);
# half a million units is well under a second of jinja, while nested loops over
# range(100000) or a 10^10-step bomb stop at once (TemplateError).
MAX_TEMPLATE_WORK = 500_000

# Integers a template computes (`**`, `*`, `+`): Nunjucks works on doubles,
# so nothing real exceeds 2^1024; 4096 bits leaves room while `7 ** 999999999`
# (minutes of CPU, hundreds of MB) is refused before it is computed.
MAX_TEMPLATE_INT_BITS = 4096

# Compiled templates kept per engine (one engine per target). A target has a
# few dozen templates; the cap only matters for callers that render ad-hoc
# sources through one engine, which must not grow memory without bound.
MAX_TEMPLATE_CACHE = 1024

# A request URL after rendering. Servers and proxies reject far less (8-16 KiB
# is common); a rendered URL beyond 64 KiB is a template bug, not a request.
MAX_URL_LENGTH = 64 * 1024

# Redirects followed per request: fetch's limit ("redirect count exceeded" past 20).
MAX_REDIRECTS = 20

# Header lines in a raw `request:` template. Real requests carry tens; Node's
# own parser stops at 2000 (maxHeadersCount). One parser, one named bound.
MAX_RAW_REQUEST_HEADERS = 2000

# Default request timeout, promptfoo's REQUEST_TIMEOUT_MS default.
DEFAULT_TIMEOUT_MS = 300_000


# -- user code (transforms, validators, session parsers) run in QuickJS --------------
# Memory one target's JavaScript context may use, code and data together. The
# largest legitimate use is JSON.parse of a big response body (a few times the
# body size); 256 MiB covers a 32 MiB JSON answer while a runaway
# `'x'.repeat(1e9)` or an ever-growing array stops long before the process
# notices.
JS_MEMORY_LIMIT = 256 * 1024 * 1024

# CPU seconds one evaluation (one transform call, one module load) may take.
# Real transforms finish in microseconds; two seconds is generous for a big
# body and still ends `while(true){}` quickly.
JS_TIME_LIMIT_S = 2.0

# Native stack QuickJS may use before throwing "stack overflow". Its own
# default (256 KiB, about 400 nested JS calls) is kept because the check is
# made against the stack of the thread that calls in, and secondary threads
# can have small stacks (512 KiB on macOS): a larger value could crash.
JS_STACK_LIMIT = 256 * 1024

# Promise jobs drained for one async transform. An `await` chain of a real
# transform settles in a handful; an endless `while (true) await 0` does not.
JS_MAX_PENDING_JOBS = 100_000

# console.log lines kept per target (oldest dropped first) and the length of
# each: debugging output must not grow without bound.
JS_DEBUG_LOG_LINES = 200
JS_DEBUG_LOG_LINE_CHARS = 4096

# Contexts kept per target when several threads use it (one per thread).
JS_MAX_CONTEXTS = 32

# A multipart/form-data body built from ``multipart.parts``: each file is at
# most MAX_LOAD_BYTES, but a config may list many; 64 MiB bounds the request
# the same way MAX_RESPONSE_BODY bounds the answer.
MAX_MULTIPART_BODY = 64 * 1024 * 1024

# Signatures kept per target, one per distinct (rendered) private key. A
# target normally has one key; a templated key per test case must not grow
# the cache without bound (the oldest entry is dropped).
MAX_SIGNATURE_CACHE = 64

# A JKS keystore (``jks.read_keystore``). Every length field in the format is
# checked before it is used, so a corrupt or hostile file cannot make the
# reader allocate or loop beyond these. Real keystores hold a handful of
# entries; trust stores (cacerts) about 150, so 4096 leaves ample room.
MAX_JKS_ENTRIES = 4096
# Certificates in one private key entry's chain (real chains are 2-5 long).
MAX_JKS_CHAIN = 32
# One DER blob (a protected key or a certificate). RSA-16384 keys and large
# certificates stay far below 64 KiB.
MAX_JKS_BLOB = 64 * 1024
# An alias or certificate type name (written with Java's 2-byte length prefix).
MAX_JKS_NAME = 1024

# Characters of a rejected response body quoted in "HTTP call failed with
# status ..." errors: enough to show an API's error JSON, not a whole page.
ERROR_BODY_SNIPPET = 4096

# OAuth tokens cached per target, one per distinct set of rendered
# credentials (promptfoo's bound: 256, least recently used evicted). Only
# configs that template credentials per test ever hold more than one.
MAX_OAUTH_TOKENS = 256

# Tokens from an ``auth.type: file`` function cached per target, one per
# distinct call context (promptfoo keys them on the context, so per-test vars
# get their own); the same bound as OAuth, least recently used evicted.
MAX_FILE_AUTH_TOKENS = 256

# Session ids a target remembers having obtained from its session endpoint
# (so a later call passing one back reuses it). promptfoo never prunes this
# set; a long red-team run creates one per conversation, so it is bounded
# here and the oldest are forgotten first (a forgotten id just means a fresh
# session is fetched).
MAX_SESSION_IDS = 10_000


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
    max_ws_handshake: int = MAX_WS_HANDSHAKE
    max_rendered_template: int = MAX_RENDERED_TEMPLATE
    max_json_depth: int = MAX_JSON_DEPTH
    max_oauth_tokens: int = MAX_OAUTH_TOKENS
    max_session_ids: int = MAX_SESSION_IDS
