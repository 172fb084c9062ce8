"""Registers SealFlow prints, such as a seal's usage ledger (用印登记台账): an A4 landscape table with a title, the
column headings repeated on every page, page numbers and a footer, drawn with reportlab."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from app.pdf.fonts import font_for
from app.pdf.geometry import MM

__all__ = ["LedgerSpec", "render_ledger"]

MARGIN = 12 * MM
FONT_SIZE = 8.5


@dataclass(frozen=True)
class LedgerSpec:
    """What the ledger shows, every text already in the reader's language.

    title: the first line, large; subtitle: the lines under it (the period, the custodians …).
    headings: the column headings; widths: each column's share of the page width (same length, summing to 1).
    rows: the table's rows, one text per column (an empty table prints `empty`).
    footer: printed at the bottom left of every page (when and by whom it was printed).
    page_label: the page number's text, with {page} and {pages} in it ("Page {page} of {pages}").
    """

    title: str
    subtitle: tuple[str, ...]
    headings: tuple[str, ...]
    widths: tuple[float, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str
    footer: str
    page_label: str = "{page} / {pages}"


def _fonts(spec: LedgerSpec) -> tuple[str, str]:
    """The regular and bold faces: Helvetica's when every text fits WinAnsi, else the CJK font for both (it draws
    Latin text too)."""
    texts = (spec.title, *spec.subtitle, *spec.headings, *(cell for row in spec.rows for cell in row), spec.empty,
             spec.footer, spec.page_label)
    face = font_for("".join(texts))
    return ("Helvetica", "Helvetica-Bold") if face == "Helvetica-Bold" else (face, face)


def numbered_canvas(footer: str, page_label: str, font: str) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so that each can say how many there are."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802  (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._pages:
                self.__dict__.update(state)
                width, _ = self._pagesize
                self.setFont(font, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawString(MARGIN, 6 * MM, footer)
                self.drawRightString(width - MARGIN, 6 * MM,
                                     page_label.format(page=self._pageNumber, pages=len(self._pages)))
                super().showPage()
            super().save()

    return NumberedCanvas


def render_ledger(spec: LedgerSpec) -> bytes:
    """The ledger as PDF bytes (A4 landscape).

    Every text is drawn as written: markup-like characters (<, &) are escaped, Chinese and Latin lines wrap inside
    their cells.
    """
    if len(spec.headings) != len(spec.widths) or any(len(row) != len(spec.headings) for row in spec.rows):
        raise ValueError("every row needs one text per heading, and every heading a width")
    regular, bold = _fonts(spec)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=FONT_SIZE, leading=FONT_SIZE * 1.3, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=2 * MM)
    line = ParagraphStyle("line", fontName=regular, fontSize=9, leading=12)

    def para(text: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    page_width = landscape(A4)[0] - 2 * MARGIN
    rows = [[para(text, head) for text in spec.headings]]
    rows += [[para(text, cell) for text in row] for row in spec.rows]
    if not spec.rows:
        rows.append([para(spec.empty, cell)] + [para("", cell)] * (len(spec.headings) - 1))
    table = LongTable(rows, colWidths=[w * page_width for w in spec.widths], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        *([("SPAN", (0, 1), (-1, 1))] if not spec.rows else []),
    ]))
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=MARGIN, rightMargin=MARGIN,
                                 topMargin=MARGIN, bottomMargin=MARGIN + 4 * MM, title=spec.title, invariant=True)
    story = [para(spec.title, title), *(para(text, line) for text in spec.subtitle), Spacer(1, 4 * MM), table]
    document.build(story, canvasmaker=numbered_canvas(spec.footer, spec.page_label, regular))
    return out.getvalue()
