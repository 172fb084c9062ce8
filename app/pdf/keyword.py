"""Finding a keyword (e.g. 甲方（盖章）) in the page text, with pdfium's text layer.

pdfium decodes whatever a page uses; callers pass only pages that went through app/pdf/budget.py first
(`stamp.locate` does).
"""

from __future__ import annotations

from dataclasses import dataclass

import pypdfium2 as pdfium

from app.pdf.errors import InvalidPdfError
from app.pdf.fonts import PDFIUM_LOCK

__all__ = ["KeywordHit", "find_keyword"]


@dataclass(frozen=True)
class KeywordHit:
    """One occurrence: the 0-based page index and its box in PDF user space (x1, y1, x2, y2)."""

    page_index: int
    box: tuple[float, float, float, float]


def find_keyword(data: bytes, keyword: str, page_indexes: list[int]) -> list[KeywordHit]:
    """Every occurrence of the keyword on the given pages, in page order."""
    if not keyword.strip():
        raise InvalidPdfError("the keyword to place the seal at is empty")
    with PDFIUM_LOCK:
        return _search(data, keyword, page_indexes)


def _search(data: bytes, keyword: str, page_indexes: list[int]) -> list[KeywordHit]:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise InvalidPdfError(f"the PDF's text cannot be read ({exc})") from exc
    hits: list[KeywordHit] = []
    try:
        for index in page_indexes:
            hits += _page_hits(document, index, keyword)
    finally:
        document.close()
    return hits


def _page_hits(document: pdfium.PdfDocument, index: int, keyword: str) -> list[KeywordHit]:
    hits: list[KeywordHit] = []
    try:
        page = document[index]
    except (pdfium.PdfiumError, IndexError) as exc:
        raise InvalidPdfError(f"the text of page {index + 1} cannot be read ({exc})") from exc
    try:
        text = page.get_textpage()
        search = text.search(keyword, match_case=True, match_whole_word=False)
        while (found := search.get_next()) is not None:
            start, length = found
            boxes = [text.get_charbox(i) for i in range(start, start + length)]
            hits.append(KeywordHit(index, (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                           max(b[2] for b in boxes), max(b[3] for b in boxes))))
        search.close()
        text.close()
    except pdfium.PdfiumError as exc:
        raise InvalidPdfError(f"the text of page {index + 1} cannot be read ({exc})") from exc
    finally:
        page.close()
    return hits
