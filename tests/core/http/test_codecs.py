"""Both HTTP/1.1 codecs: the same events, the same errors, the same strictness where smuggling lives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_core.errors import ConfigError, PromptwireError
from sansio_core.http.codec import END, ResponseStart
from sansio_core.http.codecs import H11, HTTPTOOLS, get_codec
from sansio_core.http.prepared import PreparedRequest
from sansio_core.http.request_bytes import encode_request, encode_with_h11
from sansio_core.testing.codec_twin import disagreement, outcome

CODECS = [pytest.param(H11, id="h11"),
          pytest.param(HTTPTOOLS, id="httptools",
                       marks=pytest.mark.skipif(HTTPTOOLS is None, reason="httptools not installed"))]

OK = b"HTTP/1.1 200 OK\r\n"
HELLO = ResponseStart(200, "OK", (("content-length", "5"),), "1.1")


def run(codec, data: bytes, **kw):
    """Whole, and byte by byte: the same events either way."""
    whole = outcome(codec, [data], **kw)
    bytewise = outcome(codec, [data[i:i + 1] for i in range(len(data))], **kw)
    assert whole[:2] == bytewise[:2]
    return whole


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("data", [
    OK + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nhi",  # duplicate, even equal
    OK + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nhi",  # conflicting
    OK + b"Content-Length: 2, 2\r\n\r\nhi",
    OK + b"Content-Length: +2\r\n\r\nhi",
    OK + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    OK + b"X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",  # obs-fold
    OK + b"X-A: a\nContent-Length: 0\r\n\r\n",  # bare LF
    OK + b"X A: a\r\nContent-Length: 0\r\n\r\n",
    OK + b"X-A : a\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    OK + b"Transfer-Encoding: chunked\r\n\r\nz\r\nhi\r\n0\r\n\r\n",  # bad chunk sizes
    OK + b"Transfer-Encoding: chunked\r\n\r\n-2\r\nhi\r\n0\r\n\r\n",
    OK + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhiXX0\r\n\r\n",
    OK + b"Transfer-Encoding: chunked\r\n\r\n2\nhi\r\n0\r\n\r\n",
    OK + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhi\r\n0\r\n\r\n",
])
def test_smuggling_shapes_are_errors_in_both(codec, data: bytes) -> None:
    assert run(codec, data) == ("error",)
    assert disagreement([data]) is None


@pytest.mark.parametrize("codec", CODECS)
def test_framing_and_reuse(codec) -> None:
    assert run(codec, OK + b"Content-Length: 5\r\n\r\nhello") == ("ok", [HELLO, b"hello", END], True)
    # Junk after the message: the connection is not reused; CR/LF alone is tolerated.
    assert run(codec, OK + b"Content-Length: 5\r\n\r\nhelloX")[2] is False
    assert run(codec, OK + b"Content-Length: 5\r\n\r\nhello\r\n")[2] is True
    chunked = OK + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nX-T: 1\r\n\r\n"
    assert run(codec, chunked)[1][1:] == [b"hello", END]
    # Close-delimited: ends at EOF, never reused; cut framed bodies are errors.
    assert run(codec, OK + b"\r\nuntil eof") == ("ok", [ResponseStart(200, "OK", (), "1.1"), b"until eof", END],
                                                False)
    assert run(codec, OK + b"Content-Length: 9\r\n\r\nhello") == ("error",)
    assert run(codec, OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel") == ("error",)
    # HTTP/1.0 and Connection: close are never reused.
    assert run(codec, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[2] is False
    assert run(codec, OK + b"Connection: keep-alive, close\r\nContent-Length: 0\r\n\r\n")[2] is False


@pytest.mark.parametrize("codec", CODECS)
def test_1xx_head_204_304(codec) -> None:
    got = run(codec, b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 103 Early\r\n\r\n" + OK
              + b"Content-Length: 5\r\n\r\nhello")
    assert got == ("ok", [HELLO, b"hello", END], True)
    assert run(codec, OK + b"Content-Length: 5\r\n\r\n", head_request=True) == ("ok", [HELLO, END], True)
    for status in (b"204 No Content", b"304 Not Modified"):
        got = run(codec, b"HTTP/1.1 " + status + b"\r\nContent-Length: 5\r\n\r\n")
        assert got[0] == "ok" and got[1][1:] == [END] and got[2] is True


@pytest.mark.parametrize("codec", CODECS)
def test_head_size_limit(codec) -> None:
    big = OK + b"X: " + b"a" * 5000 + b"\r\nContent-Length: 0\r\n\r\n"
    assert run(codec, big, max_head=4096) == ("error",)
    assert run(codec, big, max_head=8192)[0] == "ok"


def test_get_codec() -> None:
    assert get_codec("h11") is H11
    assert get_codec(None) is (HTTPTOOLS or H11)
    with pytest.raises(ConfigError, match="PROMPTWIRE_HTTP_PARSER"):
        get_codec("picohttp")


def _req(headers, body=None, method="POST", target="/v1/x?q=1") -> PreparedRequest:
    return PreparedRequest(method, "http", "h", 80, target, tuple(headers), body, "http://h/")


@pytest.mark.parametrize("req", [
    _req([("content-type", "application/json"), ("host", "h"), ("content-length", "2")], b"{}"),
    _req([("host", "h"), ("x-a", "caf\u00e9"), ("x-b", "\u2603 snow")], None, "GET"),
    _req([("host", "h"), ("content-length", "0")], None),
    _req([("host", "h"), ("Transfer-Encoding", "chunked")], b"abc"),  # h11's own framing
])
def test_request_bytes_are_h11s(req) -> None:
    assert encode_request(req) == encode_with_h11(req)


def _encode_or_error(encode, req):
    try:
        return encode(req)
    except PromptwireError as err:
        return type(err), str(err)


def _uncached_encode(req):
    """``encode_request`` as it was before heads were cached (the reference)."""
    from sansio_core.http.message import header_bytes
    from sansio_core.http.request_bytes import _TARGET, _TOKEN, _VALUE, _name

    method, target, body = req.method, req.target, req.body
    if not _TOKEN.match(method) or not _TARGET.match(target):
        return encode_with_h11(req)
    host = b""
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), b""]
    length = None
    for name, value in req.headers:
        raw = _name(name)
        if raw is None or not _VALUE.match(value):
            return encode_with_h11(req)
        low = name.lower()
        if low == "host":
            if host:
                return encode_with_h11(req)
            host = b"%s: %s\r\n" % (raw, header_bytes(value))
            continue
        if low == "content-length":
            if length is not None:
                return encode_with_h11(req)
            length = value
        elif low == "transfer-encoding":
            return encode_with_h11(req)
        lines.append(b"%s: %s\r\n" % (raw, header_bytes(value)))
    if not host:
        return encode_with_h11(req)
    if body:
        if length != str(len(body)):
            return encode_with_h11(req)
    elif length not in (None, "0"):
        return encode_with_h11(req)
    lines[1] = host
    lines.append(b"\r\n")
    if body:
        lines.append(body)
    return b"".join(lines)


@settings(max_examples=400, deadline=None)
@given(
    headers=st.lists(st.tuples(st.sampled_from(["host", "content-type", "content-length", "x-a", "Host", "bad name",
                                                "transfer-encoding", "Content-Length"]),
                               st.sampled_from(["h", "application/json", "0", "2", "3", " v", "caf\u00e9", "a\nb",
                                                "\u2603", "\ud800", "chunked"])),
                     max_size=5),
    body=st.sampled_from([None, b"", b"{}", b"abc"]),
    method=st.sampled_from(["POST", "GET", "PO ST"]),
    target=st.sampled_from(["/v1", "/a b"]),
)
def test_cached_request_heads_give_the_same_bytes(headers, body, method, target) -> None:
    # The head cache (keyed by everything but a final content-length) never
    # changes the bytes or the error, the first time or the second.
    from sansio_core.http import request_bytes

    req = _req(headers, body, method, target)
    request_bytes._HEADS.clear()
    expected = _encode_or_error(_uncached_encode, req)
    assert _encode_or_error(encode_request, req) == expected
    assert _encode_or_error(encode_request, req) == expected


@settings(max_examples=150, deadline=None)
@given(
    status=st.sampled_from([b"200 OK", b"204 No Content", b"304 Not Modified", b"404 Not Found", b"500 "]),
    version=st.sampled_from([b"1.1", b"1.0"]),
    framing=st.sampled_from(["cl", "chunked", "close", "dup-cl", "te-cl", "bad-chunk", "fold"]),
    headers=st.lists(st.tuples(st.sampled_from([b"X-A", b"Connection", b"content-type"]),
                               st.sampled_from([b"close", b"keep-alive", b"text/plain", b" v ", b""])),
                     max_size=3),
    body=st.binary(max_size=40),
    extra=st.sampled_from([b"", b"\r\n", b"X", b"HTTP/1.1 200 OK\r\n\r\n"]),
    informational=st.booleans(),
    head_request=st.booleans(),
    cut=st.integers(0, 400),
)
def test_both_codecs_agree(status, version, framing, headers, body, extra, informational, head_request,
                           cut) -> None:
    lines = [b"HTTP/" + version + b" " + status]
    lines += [name + b": " + value for name, value in headers]
    if framing in ("cl", "dup-cl", "te-cl"):
        lines.append(b"Content-Length: %d" % len(body))
    if framing == "dup-cl":
        lines.append(b"Content-Length: %d" % len(body))
    if framing == "fold":
        lines.append(b"X-F: a\r\n b")
    if framing in ("chunked", "te-cl", "bad-chunk"):
        lines.append(b"Transfer-Encoding: chunked")
        size = b"%x" % len(body) if framing != "bad-chunk" else b"0x%x" % len(body)
        payload = (size + b"\r\n" + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        payload = body
    data = b"\r\n".join(lines) + b"\r\n\r\n" + payload + extra
    if informational:
        data = b"HTTP/1.1 100 Continue\r\n\r\n" + data
    cut = min(cut, len(data))
    for chunks in ([data], [data[:cut], data[cut:]]):
        assert disagreement(chunks, head_request=head_request) is None


@pytest.mark.parametrize("codec", CODECS)
def test_remembered_header_lines_still_judge_every_line(codec) -> None:
    from sansio_core.http import codec as codec_module

    good = OK + b"X-A: 1\r\nContent-Length: 0\r\n\r\n"
    assert run(codec, good)[0] == "ok"
    assert b"X-A: 1" in codec_module._GOOD_LINES
    assert run(codec, OK + b"X-A: 1\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n") == ("error",)
    long_line = b"X-L: " + b"a" * 300
    assert run(codec, OK + long_line + b"\r\nContent-Length: 0\r\n\r\n")[0] == "ok"
    assert long_line not in codec_module._GOOD_LINES


@pytest.mark.skipif(HTTPTOOLS is None, reason="httptools is not installed")
def test_a_finished_httptools_parser_leaves_no_reference_cycle() -> None:
    import gc

    parser = HTTPTOOLS.new_parser(False, 65536)
    assert parser.feed(OK + b"Content-Length: 2\r\n\r\nhi")[-1] is END
    assert parser._p is None  # llhttp held our bound callbacks
    assert parser.feed(b"\r\n") == [] and parser.leftover() == b"\r\n"
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        parser = HTTPTOOLS.new_parser(False, 65536)
        parser.feed(OK + b"Content-Length: 0\r\n\r\n")
        del parser
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
