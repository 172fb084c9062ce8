"""How long SealFlow takes to refuse hostile seal-image uploads, and to accept and preview the largest it accepts.

Run by hand: `.venv/bin/python bench/seal_uploads.py [--runs 3]`.

For each hostile file of tests/pdf/hostile_seals.py (the four reproductions of issue 11 first) it prints its size,
the median wall time of `load_seal_image` refusing it (default limits) and the message. Then, for seals at the
limits (an SVG of 1,990 elements nested 12 deep with 19 style rules, text in 8 fonts and a 49,800-coordinate path; a PDF
page of about 50,000 operations, stroked lines corner to corner, the slowest kind for pdfium found; a PDF of
12 MiB of decoded content; a 4000 × 4000 PNG) the median upload time (the trial render in its child process
included), the child's processor seconds for the preview, and the median time of the web preview
(`render_seal_preview`, in this process), with the preview's size.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from PIL import Image, ImageDraw  # noqa: E402

from app.pdf import SealImageError, render_seal_preview  # noqa: E402
from app.pdf.seal_image import trial_render  # noqa: E402
from app.pdf.seal_upload import DEFAULT_LIMITS, load_seal_image  # noqa: E402
from tests.pdf import hostile_seals as hostile  # noqa: E402

HOSTILE: dict[str, Callable[[], bytes]] = {
    "reproduction: SVG of 150,000 shapes": lambda: hostile.svg_with_shapes(150_000),
    "reproduction: SVG embedding a PNG claiming 100000 x 100000": lambda: hostile.svg_with_image(
        hostile.png_header(100_000, 100_000)),
    "reproduction: PDF with a 5 m page": lambda: hostile.pdf_with_page(14400),
    "reproduction: PDF with a 256 MiB stream": lambda: hostile.pdf_with_stream(256),
    "SVG <use> bomb (10^6 squares)": hostile.svg_use_bomb,
    "SVG nested 40 deep": lambda: hostile.svg_nested(40),
    "SVG path of 200,000 points": lambda: hostile.svg_with_path(200_000),
    "SVG with 30,000 style rules": lambda: hostile.svg_with_style_rules(30_000),
    "SVG embedding a JPEG claiming 60000 x 60000": lambda: hostile.svg_with_image(
        hostile.jpeg_claiming(60000, 60000), "jpeg"),
    "PNG claiming 50000 x 50000": lambda: hostile.png_header(50000, 50000),
    "PDF form bomb (3.2 million squares)": hostile.pdf_form_bomb,
    "PDF image claiming 100000 x 100000": lambda: hostile.pdf_with_image(100_000, 100_000),
    "PDF JPEG whose header claims 60000 x 60000": lambda: hostile.pdf_with_jpeg(hostile.jpeg_claiming(60000, 60000)),
    "PDF of 3,000 objects": lambda: hostile.pdf_with_objects(3000),
    "PDF listing its page 800,000 times": lambda: hostile.pdf_listing_its_page(800_000),
    "PDF cross-reference bomb (50 million entries)": lambda: hostile.pdf_xref_bomb(50_000_000),
    "PDF with an LZW stream": lambda: hostile.pdf_with_filter(b"/LZWDecode"),
}


def largest_svg() -> bytes:
    style = b"<style>" + b"*{fill:#d91a1a}" * 19 + b"</style>"
    fonts = b"".join(b'<text font-family="Font%d" x="5" y="%d" font-size="3">SEAL %d</text>' % (i, 5 + i * 5, i)
                     for i in range(8))
    path = b'<path fill="none" stroke="#d91a1a" stroke-width="0.1" d="M0 0 ' + b" ".join(
        b"L%d %d" % (i % 50, i * 7 % 50) for i in range(24_900)) + b'"/>'
    shapes = b'<g fill="#d91a1a">' * 10 + b'<rect x="1" y="1" width="1" height="1"/>' * 1970 + b"</g>" * 10
    return hostile.SVG_HEAD + style + fonts + path + shapes + b"</svg>"


def largest_pdf_operations() -> bytes:
    strokes = b"".join(b"0 0 m 113 113 l S\n" if i % 2 else b"0 113 m 113 0 l S\n" for i in range(16_600))
    return hostile.pdf_with_page(113, content=b"0.85 0.1 0.1 RG 0.5 w\n" + strokes)


def largest_png() -> bytes:
    image = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for ring in range(0, 1800, 40):
        draw.ellipse((100 + ring, 100 + ring, 3900 - ring, 3900 - ring), outline=(217, 26, 26, 255), width=12)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


LARGEST: dict[str, Callable[[], bytes]] = {
    "SVG at the limits": largest_svg,
    "PDF of ~50,000 operations (diagonal strokes)": largest_pdf_operations,
    "PDF of 12 MiB decoded content": lambda: hostile.pdf_with_stream(12),
    "PNG of 4000 x 4000": largest_png,
}


def timed(action: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        try:
            result = action()
        except SealImageError as exc:
            result = exc
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(f"limits: {DEFAULT_LIMITS}\n\nrefusals (median of {runs}):")
    for name, build in HOSTILE.items():
        data = build()
        seconds, result = timed(lambda data=data: load_seal_image(data), runs)
        verdict = f"refused: {result}" if isinstance(result, SealImageError) else "ACCEPTED"
        print(f"  {name}: {len(data):,} bytes, {seconds * 1000:.0f} ms, {verdict}")
    print(f"\nlargest accepted (median of {runs}):")
    for name, build in LARGEST.items():
        data = build()
        upload, seal = timed(lambda data=data: load_seal_image(data), runs)
        if not isinstance(seal, bytes):
            print(f"  {name}: {len(data):,} bytes, REFUSED: {seal}")
            continue
        child = trial_render(seal, DEFAULT_LIMITS.render_seconds)
        preview_time, preview = timed(lambda seal=seal: render_seal_preview(seal), max(runs, 5))
        size = Image.open(io.BytesIO(preview)).size if isinstance(preview, bytes) else None
        print(f"  {name}: {len(data):,} bytes; upload {upload * 1000:.0f} ms; trial render {child * 1000:.0f} ms "
              f"processor; web preview {preview_time * 1000:.0f} ms, {size}")


if __name__ == "__main__":
    main()
