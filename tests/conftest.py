"""Session-wide: ``PROMPTWIRE_HTTP_PARSER`` (h11, httptools, auto) picks the core's default codec too,
so the core tests run under the codec CI asks for, as the bindings do."""

from __future__ import annotations

import os

from sansio_core.http import codecs

codecs.DEFAULT = codecs.get_codec(os.environ.get("PROMPTWIRE_HTTP_PARSER"))
