"""A proxy.py plugin for the proxy tests: appends each request the proxy sees to
``$PW_PROXY_RECORD`` (``METHOD host:port path`` and whether it carried
Proxy-Authorization), before proxy.py connects upstream."""

from __future__ import annotations

import os
from typing import Any

from proxy.http.proxy import HttpProxyBasePlugin


class Recorder(HttpProxyBasePlugin):  # type: ignore[misc]
    def before_upstream_connection(self, request: Any) -> Any:
        method = (request.method or b"?").decode("latin-1")
        host = (request.host or b"?").decode("latin-1")
        path = (request.path or b"").decode("latin-1")
        with open(os.environ["PW_PROXY_RECORD"], "a", encoding="utf-8") as f:
            f.write(f"{method} {host}:{request.port} {path}\n")
        return request

    def handle_client_request(self, request: Any) -> Any:
        return request

    def handle_upstream_chunk(self, chunk: Any) -> Any:
        return chunk

    def on_upstream_connection_close(self) -> None:
        pass
