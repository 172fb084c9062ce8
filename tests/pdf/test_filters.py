"""Bounded stream decoding: each filter decodes what qpdf decodes, and stops at the limit."""

import base64
import binascii
import zlib

import pikepdf
import pytest

from app.pdf.filters import decode, filter_names
from tests.pdf.mutants import lzw_zeros, zeros


def _qpdf(raw: bytes, filters: list[str]) -> bytes:
    pdf = pikepdf.new()
    names = [pikepdf.Name(f) for f in filters]
    stream = pdf.make_stream(raw, Filter=names[0] if len(names) == 1 else pikepdf.Array(names))
    return stream.read_bytes(pikepdf.StreamDecodeLevel.specialized)


TEXT = b"BT /F1 12 Tf 72 720 Td (Hello, sealed world) Tj ET\n" * 300


@pytest.mark.parametrize("filters, raw", [
    (["/FlateDecode"], zlib.compress(TEXT)),
    (["/LZWDecode"], lzw_zeros(1)),
    (["/RunLengthDecode"], bytes([4]) + b"hello" + bytes([250]) + b"!" + bytes([128])),
    (["/ASCIIHexDecode"], binascii.hexlify(TEXT) + b">"),
    (["/ASCII85Decode"], base64.a85encode(TEXT) + b"~>"),
    (["/ASCII85Decode", "/FlateDecode"], base64.a85encode(zlib.compress(TEXT)) + b"~>"),
])
def test_each_filter_decodes_what_qpdf_decodes(filters: list[str], raw: bytes):
    decoded = decode(raw, filters, 64 * 2**20)
    assert decoded.data == _qpdf(raw, filters) and not decoded.damaged


@pytest.mark.parametrize("filters, raw", [
    (["/FlateDecode"], zeros(100)),
    (["/LZWDecode"], lzw_zeros(100)),
    (["/RunLengthDecode"], bytes([129, 32]) * 800_000),
    (["/ASCII85Decode"], b"z" * 30_000_000),
])
def test_a_bomb_stops_at_the_limit(filters: list[str], raw: bytes):
    assert decode(raw, filters, 2**20).data is None
    assert decode(raw[:len(raw) // 100], filters, 2**30).data is not None  # an honest share decodes


def test_damaged_data_decodes_as_far_as_it_can_and_says_so():
    good = zlib.compress(TEXT)
    decoded = decode(good[:20] + b"\xff\xff\xff" + good[23:], ["/FlateDecode"], 2**20)
    assert decoded.damaged and decoded.data is not None and TEXT.startswith(decoded.data)


def test_image_codecs_are_never_run_and_unknown_filters_end_decoding():
    assert decode(b"\xff\xd8 jpeg", ["/DCTDecode"], 10).data == b""  # an image costs its declared size
    assert decode(b"anything", ["/FooDecode"], 100).data == b"anything"
    wrapped = base64.a85encode(b"\xff\xd8 jpeg") + b"~>"
    assert decode(wrapped, ["/ASCII85Decode", "/DCTDecode"], 100).data == b"\xff\xd8 jpeg"


def test_filter_names_expand_inline_abbreviations():
    assert filter_names(pikepdf.Array([pikepdf.Name("/A85"), pikepdf.Name("/Fl")])) == ["/ASCII85Decode",
                                                                                        "/FlateDecode"]
    assert filter_names(pikepdf.Name.LZWDecode) == ["/LZWDecode"] and filter_names(None) == []


def test_every_decoder_ends_on_random_and_truncated_input():
    """Seeded junk and cut-off encodings: each decoder returns (or stops at the limit) within the alarm."""
    import random
    import signal

    rng = random.Random(11)
    valid = [zlib.compress(TEXT), lzw_zeros(1), base64.a85encode(TEXT), binascii.hexlify(TEXT), bytes([130, 65]) * 50]
    inputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(300)]
    inputs += [v[:rng.randrange(len(v))] for v in valid for _ in range(20)]
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("a decoder did not end")))
    signal.alarm(20)
    try:
        for data in inputs:
            for name in ("/FlateDecode", "/LZWDecode", "/RunLengthDecode", "/ASCIIHexDecode", "/ASCII85Decode"):
                decoded = decode(data, [name], 2**20)
                assert decoded.data is None or len(decoded.data) <= 2**20
    finally:
        signal.alarm(0)
