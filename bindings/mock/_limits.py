"""Caps that keep the mock server bounded, each with its reason.

The mock serves tests, the demo and local experiments on loopback. Whatever a
client or a query parameter asks for, no loop, delay or buffer may grow without
bound, so a buggy client under test cannot hang CI or exhaust memory.
"""

from __future__ import annotations

# Request head (request line + headers). h11's own default is 16 KiB; the
# clients under test send large auth/signature headers, and node's default
# server limit is 16 KiB too, so 64 KiB leaves room without being unbounded.
MAX_REQUEST_HEAD = 64 * 1024

# A request body kept in memory for /echo and the chat endpoint. Multipart
# uploads in tests are small; 16 MiB is far above them and still bounded.
MAX_REQUEST_BODY = 16 * 1024 * 1024

# One socket receive.
READ_CHUNK = 64 * 1024

# Requests served on one keep-alive connection before the server closes it
# (benchmarks reuse one connection for many thousands of requests).
MAX_REQUESTS_PER_CONNECTION = 1_000_000

# A keep-alive connection with no request for this long is closed, so an
# abandoned client socket does not pin a task forever.
KEEPALIVE_IDLE_S = 60.0

# Any single delay a query parameter asks for (delay_ms, interval_ms,
# retry-after wait). Tests need fractions of a second; a minute is plenty.
MAX_DELAY_MS = 60_000

# Events / lines / chunks in one generated stream (the SSE benchmark uses
# 2,000 events; 100,000 leaves head-room and stays a few MB).
MAX_STREAM_ITEMS = 100_000

# Failures a scripted sequence may play before it succeeds.
MAX_SCRIPT_FAILURES = 100

# Distinct script ids remembered; the oldest are forgotten beyond this.
MAX_SCRIPT_IDS = 10_000

# Requests kept in ``MockServer.requests``; the oldest half is dropped when
# this is reached, so a long benchmark run does not grow memory forever.
MAX_RECORDED_REQUESTS = 100_000

# Decoded size of /gzip-bomb, in MiB (default 1024 = 1 GiB, the brief's
# "decodes to about 1 GiB"). The encoded body is about 1 KiB per MiB.
DEFAULT_BOMB_MIB = 1024
MAX_BOMB_MIB = 4096

# One reassembled WebSocket message from a client (matches the core's
# MAX_WS_MESSAGE); larger ones are refused with close code 1009.
MAX_WS_MESSAGE = 16 * 1024 * 1024

# Messages handled on one WebSocket connection.
MAX_WS_MESSAGES = 10_000

# Lifetime of one WebSocket connection, /ws/silent included: past this the
# server closes with 1001 (going away), so a silent test cannot hang CI.
WS_LIFETIME_S = 300.0

# How long the server waits for the client's close reply after it closed.
WS_CLOSE_WAIT_S = 2.0

# Noise frames /ws/noise may send before the answer.
MAX_WS_NOISE = 1000
