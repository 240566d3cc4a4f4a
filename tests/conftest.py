"""Session-wide: ``PROMPTWIRE_HTTP_PARSER`` (h11, httptools, auto) picks the core's default codec too,
so the core tests run under the codec CI asks for, as the bindings do."""

from __future__ import annotations

import os

from sansio_core.http import codecs

codecs.DEFAULT = codecs.get_codec(os.environ.get("PROMPTWIRE_HTTP_PARSER"))

# promptwire honours the proxy variables as curl does (docs/proxies.md); the suite
# talks to loopback servers and must not go through a proxy set in the shell.
# The proxy tests set the variables they need in the env they pass in.
for _name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)
