"""Configuration: provider entries and id rules, the HTTP and WebSocket models, timeouts, TLS, and
pydantic errors turned into ``ConfigError`` messages. Validated once, when a target is built.
"""
