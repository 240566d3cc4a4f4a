"""WebSocket targets: URLs, the wsproto wire, and the flow of one call (handshake, message, replies).
"""
