"""``multipart.parts`` -> a ``multipart/form-data`` body, as promptfoo's FormData sends it.

promptfoo renders each part with the call's vars (``prompt`` being the
transformed prompt, spec 17.2), builds a ``FormData`` and lets the fetch
layer serialise it. The serialisation rules are the WHATWG ones (HTML,
"multipart/form-data encoding algorithm"): field names and string values
get their line breaks normalised to CRLF, names and filenames escape
``"``/CR/LF as ``%22``/``%0D``/``%0A``, a file's ``Content-Type`` is its
Blob type (lower-cased; empty when it has non-printable-ASCII characters)
or ``application/octet-stream``. The boundary is promptwire's own, drawn
from the call's seeded ``rng`` so a replay gives the same bytes.

Generated documents (spec 17.3) are deterministic: a one-page PDF whose
bytes match promptfoo's for the same text, and promptfoo's fixed 1x1 PNG
(68 bytes) and 1x1 JPEG (516 bytes): all three are byte-identical.
File ``path`` sources are read by the binding into ``Sources.files``.
"""

from __future__ import annotations

import base64
import posixpath
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config.http import GeneratedSource, Multipart, MultipartField, MultipartFile, PathSource
from ..errors import ConfigError, LimitExceeded, TemplateError
from ..js.jsvalue import js_trim
from ..limits import MAX_MULTIPART_BODY
from ..redaction import REDACTED, is_secret_name, sanitize
from ..sources import FILE_PREFIX, Sources, split_file_ref
from ..templating import Template, TemplateEngine, print_value
from .urls import utf8

DEFAULT_DOCUMENT_TEXT = "Promptfoo generated document for multipart HTTP target testing."
# promptfoo keeps at most this many UTF-16 code units of a generated PDF's text.
PDF_MAX_TEXT_UNITS = 800

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mP8/x8AAwMCAO+/p9sAAAAASUVORK5CYII="
)


def _jpeg_segment(marker: int, payload: str, scan: str = "") -> bytes:
    """One JPEG marker segment (length = payload + 2), then any entropy-coded bytes."""
    data = bytes.fromhex(payload)
    return bytes((0xFF, marker)) + (len(data) + 2).to_bytes(2, "big") + data + bytes.fromhex(scan)


_DHT_EMPTY = "0100000000000000000000000000000000"  # one code of length 1, symbol 0x00
_DHT_EOB16 = "0100000000000000000000000000000010"  # one code of length 1, symbol 0x10

# promptfoo's generated JPEG (spec 17.3: 516 bytes, sha256 b1fc0119...): a 1x1
# white image in JFIF with all-0xFF quantisation tables and a series of
# spectral-selection scans (one DC scan for all three components, then AC scans
# per component, then refinement scans), each with its own one-code Huffman
# table. Written here segment by segment so every byte is explained.
JPEG_1X1 = b"".join([
    b"\xff\xd8",
    _jpeg_segment(0xE0, "4a46494600" "0101" "00" "0001" "0001" "0000"),  # JFIF 1.1, 1:1 aspect
    _jpeg_segment(0xDB, "00" + "ff" * 64),  # luminance quantisation table
    _jpeg_segment(0xDB, "01" + "ff" * 64),  # chrominance quantisation table
    _jpeg_segment(0xC0, "08" "0001" "0001" "03" "012200" "021101" "031101"),  # 8-bit 1x1, YCbCr 2x2/1x1/1x1
    _jpeg_segment(0xC4, "00" "0101" + "00" * 14 + "0005"),  # DC table 0: symbols 0 and 5
    _jpeg_segment(0xC4, "10" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "03" "0100" "0210" "0310" "00" "00" "01"),  # DC scan, all components, Al=1
    _jpeg_segment(0xC4, "10" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "01" "0100" "01" "05" "02", "a7"),
    _jpeg_segment(0xC4, "11" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "01" "0301" "01" "3f" "01", "23"),
    _jpeg_segment(0xC4, "11" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "01" "0201" "01" "3f" "01", "23"),
    _jpeg_segment(0xC4, "10" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "01" "0100" "06" "3f" "02", "5f"),
    _jpeg_segment(0xC4, "10" + _DHT_EMPTY),
    _jpeg_segment(0xDA, "01" "0100" "01" "3f" "21", "5f"),
    _jpeg_segment(0xDA, "03" "0100" "0200" "0300" "00" "00" "10"),  # DC refinement
    _jpeg_segment(0xC4, "11" + _DHT_EOB16),
    _jpeg_segment(0xDA, "01" "0301" "01" "3f" "10", "1f"),
    _jpeg_segment(0xC4, "11" + _DHT_EOB16),
    _jpeg_segment(0xDA, "01" "0201" "01" "3f" "10", "1f"),
    _jpeg_segment(0xC4, "10" + _DHT_EOB16),
    _jpeg_segment(0xDA, "01" "0100" "01" "3f" "10", "1f"),
    b"\xff\xd9",
])

_EXTENSION_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "txt": "text/plain",
    "json": "application/json",
}
_GENERATED_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}

# JavaScript's \s (ECMAScript WhiteSpace + LineTerminator), not Python's.
_JS_SPACE_RUN = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLOB_TYPE_OK = re.compile(r"[\x20-\x7e]*\Z")
_BOUNDARY_PREFIX = "----promptwire-formdata-"


# -- documents -------------------------------------------------------------------------------


def _js_slice_units(text: str, units: int) -> str:
    """``text.slice(0, units)`` counted in UTF-16 code units, like JavaScript."""
    raw = text.encode("utf-16-le", "surrogatepass")
    if len(raw) <= units * 2:
        return text
    return raw[: units * 2].decode("utf-16-le", "surrogatepass")


def pdf_text(text: str) -> str:
    """The text as it is drawn: whitespace runs collapsed, trimmed, cut, PDF-string escaped."""
    text = _js_slice_units(js_trim(_JS_SPACE_RUN.sub(" ", text)), PDF_MAX_TEXT_UNITS)
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def basic_pdf(text: str) -> bytes:
    """A one-page PDF 1.4 showing ``text`` in Helvetica 16pt; offsets are byte offsets."""
    stream = utf8(f"BT\n/F1 16 Tf\n72 720 Td\n({pdf_text(text)}) Tj\nET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def content_type_for(filename: str) -> str:
    """The part type promptfoo derives from a file name's extension."""
    ext = posixpath.splitext(filename)[1].lower().lstrip(".")
    return _EXTENSION_TYPES.get(ext, "application/octet-stream")


def blob_type(value: str) -> str:
    """The File API's type normalisation: lower-cased, or empty if not printable ASCII."""
    return value.lower() if _BLOB_TYPE_OK.match(value) else ""


# -- the encoding ----------------------------------------------------------------------------


def _escape_name(value: str) -> str:
    return value.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


def _crlf(value: str) -> str:
    return _LINE_BREAK.sub("\r\n", value)


@dataclass(frozen=True, slots=True)
class FieldPart:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    data: bytes
    source: str  # "generated:<format>" or "path:<path>", for debug metadata


Part = FieldPart | FilePart


def new_boundary(rng: random.Random) -> str:
    return f"{_BOUNDARY_PREFIX}{rng.getrandbits(64):016x}"


def encode(parts: list[Part], boundary: str) -> bytes:
    """The ``multipart/form-data`` body of ``parts`` with ``boundary`` (WHATWG encoding)."""
    out = bytearray()
    dash = utf8(f"--{boundary}")
    for part in parts:
        head = f'Content-Disposition: form-data; name="{_escape_name(_crlf(part.name))}"'
        if isinstance(part, FieldPart):
            out += dash + utf8(f"\r\n{head}\r\n\r\n{_crlf(part.value)}\r\n")
        else:
            if part.filename:
                head += f'; filename="{_escape_name(part.filename)}"'
            kind = blob_type(part.content_type) or "application/octet-stream"
            out += dash + utf8(f"\r\n{head}\r\nContent-Type: {kind}\r\n\r\n") + part.data + b"\r\n"
        if len(out) > MAX_MULTIPART_BODY:
            raise LimitExceeded(f"the multipart body is larger than {MAX_MULTIPART_BODY} bytes")
    out += dash + b"--\r\n"
    return bytes(out)


def body_with_fresh_boundary(parts: list[Part], rng: random.Random | None) -> tuple[str, bytes]:
    """A boundary that occurs in no part (redrawn in the unlikely case it does) and the body."""
    rng = rng if rng is not None else random.Random(0)
    while True:
        boundary = new_boundary(rng)
        marker = utf8(boundary)
        if not any(marker in (p.data if isinstance(p, FilePart) else utf8(p.value)) for p in parts):
            return boundary, encode(parts, boundary)


# -- the compiled plan ---------------------------------------------------------------------


class _CompiledField:
    __slots__ = ("name", "value")

    def __init__(self, spec: MultipartField, engine: TemplateEngine) -> None:
        self.name = engine.compile(spec.name)
        self.value = engine.compile(print_value(spec.value))

    def render(self, vars: Mapping[str, Any]) -> Part:
        return FieldPart(self.name.render(vars), self.value.render(vars))


class _CompiledFile:
    __slots__ = ("content_type", "data", "default_filename", "filename", "format", "name", "source", "text")

    def __init__(self, spec: MultipartFile, engine: TemplateEngine, sources: Sources, where: str) -> None:
        self.name = engine.compile(spec.name)
        chosen = spec.filenameTemplate or spec.filename
        self.filename: Template | None = engine.compile(chosen) if chosen else None
        self.content_type = spec.contentType
        self.text: Template | None = None
        self.data: bytes | None = None
        src = spec.source
        self.format: str = ""
        if isinstance(src, GeneratedSource):
            self.format = src.format
            self.default_filename = f"promptfoo-document.{src.format}"
            self.source = f"generated:{src.format}"
            if src.format == "pdf":
                self.text = engine.compile(src.text if src.text else DEFAULT_DOCUMENT_TEXT)
            else:
                self.data = PNG_1X1 if src.format == "png" else JPEG_1X1
        else:
            assert isinstance(src, PathSource)
            path = file_part_path(src.path)
            if engine.compile(path).has_tags:
                raise ConfigError("templated multipart file paths are not supported yet; use a fixed path",
                                  f"{where}.source.path")
            data = sources.files.get(path)
            if data is None:
                raise ConfigError(f"the file {path!r} was not loaded (the binding reads it into Sources.files)",
                                  f"{where}.source.path")
            self.data = data
            self.default_filename = posixpath.basename(path)
            self.source = f"path:{path}"

    def render(self, vars: Mapping[str, Any]) -> Part:
        filename = self.filename.render(vars) if self.filename is not None else self.default_filename
        if self.text is not None:
            data = basic_pdf(self.text.render(vars))
        else:
            assert self.data is not None
            data = self.data
        if self.content_type:
            kind = self.content_type
        elif self.format:
            kind = _GENERATED_TYPES[self.format]
        else:
            kind = content_type_for(self.default_filename)
        return FilePart(self.name.render(vars), filename, kind, data, self.source)


def file_part_path(path: str) -> str:
    """A path source as the key ``Sources.files`` holds it (``file://`` stripped)."""
    return split_file_ref(path)[0] if path.startswith(FILE_PREFIX) else path


class MultipartPlan:
    """A target's ``multipart`` block, compiled once; ``render`` per call."""

    __slots__ = ("_parts",)

    def __init__(self, parts: list[_CompiledField | _CompiledFile]) -> None:
        self._parts = parts

    @classmethod
    def compile(cls, multipart: Multipart, engine: TemplateEngine, sources: Sources) -> MultipartPlan:
        parts: list[_CompiledField | _CompiledFile] = []
        try:
            for i, spec in enumerate(multipart.parts):
                where = f"config.multipart.parts[{i}]"
                if isinstance(spec, MultipartField):
                    parts.append(_CompiledField(spec, engine))
                else:
                    parts.append(_CompiledFile(spec, engine, sources, where))
        except TemplateError as err:
            raise ConfigError(str(err), "config.multipart") from None
        return cls(parts)

    def render(self, vars: Mapping[str, Any]) -> list[Part]:
        """The parts for one call, in config order."""
        return [part.render(vars) for part in self._parts]

    def build(self, vars: Mapping[str, Any], rng: random.Random | None) -> tuple[str, bytes, list[Part]]:
        """``(content-type header value, body, parts)`` for one call."""
        parts = self.render(vars)
        boundary, body = body_with_fresh_boundary(parts, rng)
        return f"multipart/form-data; boundary={boundary}", body, parts


def path_sources(multipart: Any) -> list[str]:
    """The file paths a raw ``multipart`` config reads (for the binding's loader)."""
    out: list[str] = []
    parts = multipart.get("parts") if isinstance(multipart, Mapping) else None
    for part in parts if isinstance(parts, list) else []:
        source = part.get("source") if isinstance(part, Mapping) else None
        if isinstance(source, Mapping) and source.get("type") == "path" and isinstance(source.get("path"), str):
            out.append(file_part_path(source["path"]))
    return out


def debug_summary(parts: list[Part]) -> dict[str, Any]:
    """``metadata.multipart`` for ``context.debug`` (spec 17.5), secrets redacted."""

    fields = [{"field": p.name, "value": REDACTED if is_secret_name(p.name) else sanitize(p.value)}
              for p in parts if isinstance(p, FieldPart)]
    files = [{"field": p.name, "filename": p.filename, "contentType": p.content_type, "sizeBytes": len(p.data),
              "source": p.source} for p in parts if isinstance(p, FilePart)]
    return {"fields": fields, "files": files}


__all__ = [
    "DEFAULT_DOCUMENT_TEXT",
    "JPEG_1X1",
    "PNG_1X1",
    "FieldPart",
    "FilePart",
    "MultipartPlan",
    "basic_pdf",
    "blob_type",
    "content_type_for",
    "debug_summary",
    "encode",
    "file_part_path",
    "path_sources",
]
