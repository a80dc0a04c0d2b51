"""Hypothesis strategies for hostile input: strings, JSON documents, bodies in the wrong shape or encoding.

Each factory is cached: a strategy is built once and drawn from many times (building one inside every
draw made generating cost more than running the requests).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

from hypothesis import strategies as st

from tests.fuzz.harness import PROBE

# Strings that have broken parsers, databases, templates or terminals somewhere.
HOSTILE = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid in JSON ("\ud800"), not encodable as UTF-8
    "\udfff",
    "x\ud83d",  # half an emoji
    "\ufeff",
    "\u202eevil\u202c",  # right-to-left override
    "\u2066isolate\u2069",
    "\u200b\u200d",
    "\r\n",
    "\t\x0b\x0c",
    "\x1b[31mred",
    "\x7f\x85",
    PROBE,
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}{% raw %}",
    "${jndi:ldap://example.invalid/a}",
    "'; DROP TABLE messages; --",
    "' OR '1'='1",
    "1); SELECT pg_sleep(10); --",
    "%00%ff%",
    "%s%s%n",
    "../../etc/passwd",
    "NaN",
    "-Infinity",
    "1e999",
    "9" * 40,
    "SLETT",
    "STOP",
    "/start",
    "null",
    "Z̴̡͝a̷l̶g̴o̵",
    "🏳️‍🌈",
    "مرحبا بك",
    "x" * 2001,
)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


@cache
def texts(*, surrogates: bool = True, pieces: int = 4) -> st.SearchStrategy[str]:
    """Hostile strings, and random ones, run together."""
    hostile = HOSTILE if surrogates else tuple(s for s in HOSTILE if not _has_surrogate(s))
    parts = [st.sampled_from(hostile), st.text(max_size=12)]
    if surrogates:
        parts.append(st.characters(categories=["Cs"]))
    return st.lists(st.one_of(*parts), min_size=1, max_size=pieces).map("".join)


# Numbers just past the 64-bit range, and past what Python converts from text.
BIG_NUMBERS = (2**63, -(2**63) - 1, 2**64, 10**30, -(10**30))


@cache
def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(BIG_NUMBERS),
        st.floats(allow_nan=True, allow_infinity=True),
        texts(),
    )


@cache
def json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(pieces=2), inner, max_size=3),
        max_leaves=8,
    )


def encode(value: Any, encoding: str) -> bytes:
    """A JSON document (NaN and Infinity included, as Python writes them) in one of several encodings."""
    if encoding == "ascii":
        return json.dumps(value).encode("ascii")
    # Unescaped: lone surrogates become invalid UTF-8 or are replaced, as a broken client would send them.
    text = json.dumps(value, ensure_ascii=False)
    if encoding == "utf-8":
        return text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "replace")


# Mostly readable, so that what is inside a document gets through to the checks behind the parser.
ENCODINGS = ("ascii", "ascii", "ascii", "ascii", "utf-8", "utf-16", "utf-32", "latin-1", "cp1252")


@cache
def documents(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.builds(encode, values, st.sampled_from(ENCODINGS))


def truncated(body: bytes, fraction: float) -> bytes:
    return body[: int(len(body) * fraction)]


def nested(depth: int, brackets: tuple[bytes, bytes]) -> bytes:
    opening, closing = brackets
    return opening * depth + closing * depth


# Past the interpreter's recursion limit (1000) by far, so that whether they nest "too deep" never depends
# on how deep the server's stack already is; the largest are also past the smaller body limits.
DEPTHS = (3000, 20_000, 100_000)


@cache
def deep_documents() -> st.SearchStrategy[bytes]:
    return st.builds(
        nested,
        st.sampled_from(DEPTHS),
        st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"text": "hi", "x": [', b"]}")]),
    )


@cache
def huge_numbers() -> st.SearchStrategy[bytes]:
    """Integers longer than Python converts from text (4300 digits), floats that overflow."""
    return st.sampled_from(
        [
            b'{"text": "hi", "n": ' + b"1" * 5000 + b"}",
            b'{"update_id": ' + b"9" * 5000 + b"}",
            b"-" + b"1" * 4500,
            b'{"text": "hi", "n": 1e999999}',
            b'{"hours": 1' + b"0" * 4400 + b"}",
        ]
    )


@cache
def form_bodies(values: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """An urlencoded form where JSON (or another form) is expected."""
    return st.lists(st.tuples(values, values), max_size=4).map(lambda pairs: urlencode(pairs).encode("ascii"))


@cache
@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    """multipart/form-data (boundary "B"), now and then broken: parts without names, unknown charsets and
    transfer encodings, nested multiparts, a missing end."""
    parts = []
    for name, value in draw(
        st.lists(st.tuples(texts(surrogates=False, pieces=1), texts(surrogates=False)), max_size=3)
    ):
        headers = draw(
            st.sampled_from(
                [
                    f'Content-Disposition: form-data; name="{name}"',
                    'Content-Disposition: form-data; name="name"',
                    "Content-Disposition: form-data",
                    'Content-Disposition: form-data; name="password"\r\nContent-Type: text/plain; charset=x',
                    'Content-Disposition: form-data; name="name"\r\nContent-Transfer-Encoding: bogus',
                    'Content-Disposition: form-data; name="csrf_token"; filename="a.txt"',
                    'Content-Disposition: form-data; name="x"\r\nContent-Type: multipart/mixed; boundary=C',
                ]
            )
        )
        parts.append(b"--B\r\n" + headers.encode("utf-8", "replace") + b"\r\n\r\n" + value.encode() + b"\r\n")
    end = draw(st.sampled_from([b"--B--\r\n", b"", b"--B"]))
    return b"".join(parts) + end


@cache
def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are not what any route wants."""
    return st.one_of(
        st.binary(max_size=200),
        st.builds(truncated, documents(json_values()), st.floats(min_value=0.0, max_value=0.99)),
        deep_documents(),
        huge_numbers(),
        form_bodies(texts(surrogates=False)),
        multipart_bodies(),
        st.sampled_from([b"", b"null", b"[]", b"{}", b'"text"', b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00"]),
    )


@cache
def oversized(limit: int) -> st.SearchStrategy[bytes]:
    """A JSON object (or form) just past a body limit."""
    return st.sampled_from(
        [
            b'{"text": "' + b"x" * limit + b'"}',
            b"Body=" + b"x" * limit,
        ]
    )


CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    'application/json; charset="utf-16"',
    "text/plain",
    "text/html; charset=bogus",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=bogus",
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data; boundary=B",
    "multipart/form-data",
    "multipart/form-data; boundary=" + "B" * 80,
    "application/octet-stream",
    "*/*",
    ";;;",
)


@cache
def content_types() -> st.SearchStrategy[str | None]:
    """A Content-Type header, or none."""
    return st.one_of(st.none(), st.sampled_from(CONTENT_TYPES))


@cache
def header_values() -> st.SearchStrategy[str]:
    """What the test client can put in a header: no line breaks or other control characters."""
    return texts(surrogates=False, pieces=3).map(
        lambda text: "".join(ch for ch in text if ch.isprintable() or ch == " ")[:300]
    )


@cache
def header_bytes() -> st.SearchStrategy[bytes]:
    """Header values as bytes on the wire: invalid UTF-8, Latin-1, NUL and other controls (never CR or LF,
    which would end the header)."""
    return st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"\xff\xfe", b"\xc3\xa9.\xc3\xa9", b"abc.\xe2\x80\xae", b"\x00", b"\xed\xa0\x80"]),
        texts(pieces=2).map(lambda text: text.encode("utf-8", "surrogatepass")),
    ).map(lambda value: value.replace(b"\r", b"").replace(b"\n", b""))


@cache
def query_values() -> st.SearchStrategy[str]:
    """A query value, percent-encoded (the request line itself is ASCII): from any bytes, invalid UTF-8
    included, from hostile text, and numbers of every odd form."""
    numbers = [str(n) for n in BIG_NUMBERS] + ["1" * 5000, "-1", "+1", "1_0", "١٢", " 7 ", "0x10", ""]
    return st.one_of(
        st.binary(max_size=20).map(lambda raw: quote_from_bytes(raw, safe="")),
        texts(pieces=2).map(
            lambda text: quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe="=&+;")
        ),
        st.integers().map(str),
        st.sampled_from(numbers).map(lambda value: quote(value, safe="+-_")),
    )
