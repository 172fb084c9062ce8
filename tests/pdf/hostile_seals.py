"""Hostile seal-image uploads, built small: each asks a decoder or a renderer for far more than its size.

Used by the upload tests (tests/pdf, tests/services, tests/web) and by bench/seal_uploads.py.
"""

from __future__ import annotations

import base64
import functools
import io
import struct
import zlib

import pikepdf
from PIL import Image

SVG_HEAD = b'<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="50mm" viewBox="0 0 50 50">'
XLINK_SVG_HEAD = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                  b'width="50mm" height="50mm" viewBox="0 0 50 50">')


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels, with almost no data: decoding it would need gigabytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\0" * 1000)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
            + b"\0\0\0\0IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF) is rewritten to claim width × height."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 20, 20)).save(out, format="JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def svg_with_shapes(count: int) -> bytes:
    """An SVG of `count` little squares (150,000 of them once held a worker until it was killed)."""
    return SVG_HEAD + b'<rect width="1" height="1"/>' * count + b"</svg>"


def svg_with_image(data: bytes, kind: str = "png") -> bytes:
    """An SVG embedding `data` as a data: URI image labelled image/`kind`."""
    uri = f"data:image/{kind};base64," + base64.b64encode(data).decode()
    return XLINK_SVG_HEAD + f'<image xlink:href="{uri}" width="10" height="10"/>'.encode() + b"</svg>"


def svg_use_bomb(levels: int = 6, fan: int = 10) -> bytes:
    """Each group draws the one before it `fan` times: 10**6 squares from a few hundred bytes."""
    parts = [b'<g id="g0"><rect width="1" height="1"/></g>']
    for level in range(1, levels + 1):
        parts.append(b'<g id="g%d">' % level + b'<use xlink:href="#g%d"/>' % (level - 1) * fan + b"</g>")
    return XLINK_SVG_HEAD + b"<defs>" + b"".join(parts) + b"</defs>" + b'<use xlink:href="#g%d"/>' % levels + b"</svg>"


def svg_nested(depth: int, shapes: int = 1) -> bytes:
    return SVG_HEAD + b'<g fill="red">' * depth + b'<rect width="1" height="1"/>' * shapes + b"</g>" * depth + b"</svg>"


def svg_with_path(points: int) -> bytes:
    d = b" ".join(b"L%d %d" % (i % 50, i * 7 % 50) for i in range(points))
    return SVG_HEAD + b'<path fill="red" d="M0 0 ' + d + b'z"/></svg>'


def svg_with_style_rules(rules: int, shapes: int = 1) -> bytes:
    """`rules` style rules, each matching every one of `shapes` squares (svglib matches each rule to each)."""
    return (SVG_HEAD + b"<style>" + b"*{fill:red}" * rules + b"</style>" + b'<rect width="1" height="1"/>' * shapes
            + b"</svg>")


def svg_with_fonts(families: int) -> bytes:
    texts = b"".join(b'<text font-family="Font%d" y="10">A</text>' % i for i in range(families))
    return SVG_HEAD + texts + b"</svg>"


def _save(pdf: pikepdf.Pdf, **options: object) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def pdf_with_page(width: float, height: float | None = None, content: bytes = b"1 0 0 rg 0 0 100 100 re f") -> bytes:
    """A one-page PDF of that page size in points (14,400 pt = 5 m: it was accepted, and its preview failed)."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(width, height or width))
        pdf.pages[0].Contents = pdf.make_stream(content)
        return _save(pdf)


@functools.cache
def pdf_with_stream(mebibytes: int) -> bytes:
    """A 100 pt page whose content stream inflates to `mebibytes` MiB of spaces (256 MiB: about 260 KB)."""
    deflater = zlib.compressobj(9)
    chunk = b" " * 2**20
    raw = b"".join(deflater.compress(chunk) for _ in range(mebibytes)) + deflater.flush()
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(100, 100))
        stream = pikepdf.Stream(pdf, raw)
        stream.Filter = pikepdf.Name.FlateDecode
        pdf.pages[0].Contents = stream
        return _save(pdf)


def pdf_form_bomb(levels: int = 5, fan: int = 20) -> bytes:
    """Each form draws the one before it `fan` times: 3.2 million squares from 2 KB (pdfium: 47 s)."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(100, 100))
        form = pdf.make_stream(b"1 0 0 rg 0 0 1 1 re f", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                               BBox=[0, 0, 100, 100])
        for _ in range(levels):
            form = pdf.make_stream(b"/X Do " * fan, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                                   BBox=[0, 0, 100, 100], Resources=pikepdf.Dictionary(
                                       XObject=pikepdf.Dictionary(X=form)))
        pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(X=form))
        pdf.pages[0].Contents = pdf.make_stream(b"/X Do")
        return _save(pdf)


def pdf_with_image(width: int, height: int) -> bytes:
    """A page drawing an image object that claims width × height pixels."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(100, 100))
        image = pikepdf.Stream(pdf, zlib.compress(b"\0" * 3 * 64))
        image.Filter = pikepdf.Name.FlateDecode
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = width, height, pikepdf.Name.DeviceRGB, 8
        pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(I=image))
        pdf.pages[0].Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /I Do Q")
        return _save(pdf)


def pdf_with_jpeg(jpeg: bytes, width: int = 8, height: int = 8) -> bytes:
    """A page drawing a JPEG image object whose dictionary says width × height, whatever its header says."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(100, 100))
        image = pikepdf.Stream(pdf, jpeg)
        image.Filter = pikepdf.Name.DCTDecode
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = width, height, pikepdf.Name.DeviceRGB, 8
        pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(I=image))
        pdf.pages[0].Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /I Do Q")
        return _save(pdf)


def pdf_with_objects(count: int) -> bytes:
    """A one-page PDF carrying `count` more (unused) objects."""
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(100, 100))
        pdf.Root.Extra = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(N=i)) for i in range(count)])
        return _save(pdf)


def pdf_listing_its_page(times: int) -> bytes:
    """A page tree whose Kids list the same page `times` times (qpdf's page list would copy it that often)."""
    return _classic_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                         b"<< /Type /Pages /Kids [" + b"3 0 R " * times + b"] /Count %d >>" % times,
                         b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"])


def _classic_pdf(objects: list[bytes]) -> bytes:
    """Objects 1, 2, … written as they are, with a classic cross-reference table; object 1 is the catalog."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)


def pdf_xref_bomb(entries: int) -> bytes:
    """A PDF whose cross-reference stream inflates to `entries` entries (50 million: 2 s and 600 MB in qpdf)."""
    objects = [b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
               b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
               b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>\nendobj\n"]
    out = b"%PDF-1.7\n"
    offsets = []
    for obj in objects:
        offsets.append(len(out))
        out += obj
    deflater = zlib.compressobj(9)
    table = deflater.compress(b"\0\0\0\0\0\xff" + b"".join(b"\1" + o.to_bytes(4, "big") + b"\0" for o in offsets))
    free = b"\0" * 6 * 100_000
    for _ in range((entries - 4) // 100_000):
        table += deflater.compress(free)
    table += deflater.flush()
    start = len(out)
    return (out + b"4 0 obj\n<< /Type /XRef /Size %d /W [1 4 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
            b"stream\n" % (entries, len(table)) + table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start)


def pdf_with_filter(name: bytes, data: bytes = b"\x80\x0b\x60\x50\x22\x0c\x0c\x85\x01") -> bytes:
    """A one-page PDF whose content stream claims the filter `name` (e.g. /LZWDecode, or escaped /LZW#44ecode)."""
    return _classic_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                         b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R >>",
                         b"<< /Length %d /Filter %s >>\nstream\n" % (len(data), name) + data + b"\nendstream"])
