"""Incremental decoders between body bytes and text: content coding, SSE, NDJSON, and deltas.
"""
