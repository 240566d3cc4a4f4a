"""Ending a connection: politely, abruptly (FIN without a reply), or with a TCP reset."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


def abort(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Close at once; with ``reset`` the peer sees a TCP RST instead of a FIN."""
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


async def close_writer(writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
