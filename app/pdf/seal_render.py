"""Drawing a one-page seal PDF as a transparent PNG with pdfium, in this process or in a child process on a clock.

This module imports nothing from SealFlow, so that `python -I seal_render.py DPI MAX_SIDE SECONDS` can run it alone: the
child reads the PDF on standard input, draws it, and reports on standard output the processor seconds the
drawing took; the kernel stops it at its processor and memory limits.
Uploads are drawn once that way (`trial_render` in seal_image), where a seal that takes too long is killed
instead of holding a web worker.
"""

from __future__ import annotations

import io
import math
import resource
import sys
import time

import pypdfium2
from PIL import Image

__all__ = ["CHILD_MEMORY_BYTES", "MAX_RENDER_SIDE", "render_png"]

MAX_RENDER_SIDE = 4000  # pixels a side, at most, of any drawing
CHILD_MEMORY_BYTES = 1 << 30  # address space of the child: a drawing that needs more fails instead


def _scale(sides: tuple[float, float], dpi: int, max_side: int | None) -> float:
    """Pixels per point: `dpi`, lowered so the longer side fits `max_side` when it is given."""
    scale = dpi / 72
    longest = max(sides)
    if max_side is not None and longest * scale > max_side:
        scale = max_side / longest
    if longest * scale > MAX_RENDER_SIDE:
        raise ValueError(f"the preview would be over {MAX_RENDER_SIDE} pixels a side; lower the dpi")
    return scale


def render_png(seal_pdf: bytes, dpi: int, max_side: int | None = None) -> bytes:
    """The page of a one-page PDF as a PNG, transparent where it has no ink.

    Raises ValueError for a PDF of other than one page or a drawing too large, pypdfium2.PdfiumError for one that
    cannot be read. Not thread-safe (pdfium is not): callers in a threaded process hold app.pdf.fonts.PDFIUM_LOCK.
    """
    document = pypdfium2.PdfDocument(seal_pdf)
    try:
        if len(document) != 1:
            raise ValueError(f"the seal PDF has {len(document)} pages; it must have exactly one")
        page = document[0]
        width, height = page.get_size()
        bitmap = page.render(scale=_scale((width, height), dpi, max_side), fill_color=(255, 255, 255, 0),
                             may_draw_forms=False)
        image: Image.Image = bitmap.to_pil().convert("RGBA")
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def _child(argv: list[str]) -> int:
    """Draw the PDF on stdin; print the processor seconds it took, or the reason it could not be drawn (exit 2)."""
    dpi, max_side, seconds = int(argv[1]), int(argv[2]), float(argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    # SIGXCPU at the soft limit ends the process; the start-up (about 0.2 s) is inside it, hence the second more.
    cpu = math.ceil(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    seal_pdf = sys.stdin.buffer.read()
    started = time.process_time()
    try:
        render_png(seal_pdf, dpi, max_side)
    except (ValueError, pypdfium2.PdfiumError, MemoryError) as exc:
        print(f"{exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"{time.process_time() - started:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv))
