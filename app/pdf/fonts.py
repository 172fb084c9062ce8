"""Fonts for text SealFlow draws (seals, captions, watermarks), and the lock pdfium needs."""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from app.pdf.errors import SealImageError

__all__ = ["CJK_FONT_PACKAGE", "PDFIUM_LOCK", "font_for"]

# Face 0 of WenQuanYi Zen Hei has TrueType outlines, which reportlab can embed.
CJK_FONT_PATHS = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),)
CJK_FONT_PACKAGE = "fonts-wqy-zenhei (Debian/Ubuntu: apt-get install fonts-wqy-zenhei)"
# pdfium is not thread-safe; web threads may render previews or search text at the same time.
PDFIUM_LOCK = threading.Lock()


@cache
def font_for(text: str) -> str:
    """A registered reportlab font that can draw the text: Helvetica for anything its WinAnsi encoding holds
    (no font to embed, no subsetting per document), else the CJK TrueType font, embedded."""
    try:
        text.encode("cp1252")
        return "Helvetica-Bold"
    except UnicodeEncodeError:
        pass
    for path in CJK_FONT_PATHS:
        if path.exists():
            if "SealFlowCJK" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("SealFlowCJK", str(path), subfontIndex=0))
            return "SealFlowCJK"
    raise SealImageError(f"drawing non-Latin text needs a CJK TrueType font: install {CJK_FONT_PACKAGE}")
