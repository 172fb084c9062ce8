"""The draft invalidation notice (作废声明) of a revoked seal: the organisation, the seal and its certificates, the
revocation, the statement and the documents it sealed, marked as a draft on every page; drawn with reportlab
(A4 portrait) for the legal team to finish."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate

from app.pdf.certificate import TableSpec, table_section
from app.pdf.fonts import font_for
from app.pdf.geometry import MM
from app.pdf.ledger import MARGIN, numbered_canvas

__all__ = ["NoticeSpec", "render_notice"]

DRAFT_GREY = colors.Color(0.75, 0.1, 0.1, alpha=0.12)


@dataclass(frozen=True)
class NoticeSpec:
    """Everything the notice says, every text already written.

    title: the heading; organisation: the line under it.
    facts: (label, value) pairs, a value's lines separated by newlines (several certificates, for example).
    statement: the paragraphs of the declaration; table: the documents (an empty one prints `empty`).
    signature: the lines left for the organisation's seal and the date, at the end.
    draft_mark: printed at the top of every page, with a large diagonal "DRAFT" behind the text.
    footer: at the bottom left of every page; page_label: with {page} and {pages} in it.
    """

    title: str
    organisation: str
    facts: tuple[tuple[str, str], ...]
    statement: tuple[str, ...]
    table: TableSpec
    empty: str
    signature: tuple[str, ...]
    draft_mark: str
    footer: str
    page_label: str = "{page} / {pages}"


def _fonts(spec: NoticeSpec) -> tuple[str, str]:
    texts = [spec.title, spec.organisation, *(t for fact in spec.facts for t in fact), *spec.statement,
             spec.table.heading, *spec.table.columns, *(c for row in spec.table.rows for c in row), spec.empty,
             *spec.signature, spec.draft_mark, spec.footer, spec.page_label]
    face = font_for("".join(texts))
    return ("Helvetica", "Helvetica-Bold") if face == "Helvetica-Bold" else (face, face)


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _draft_marker(mark: str, font: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Draws the draft mark on a page as it is laid out: a line at the top and "DRAFT" across the page."""

    def draw(canvas: Canvas, document: BaseDocTemplate) -> None:
        width, height = A4
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.setFillColor(colors.HexColor("#b00020"))
        canvas.drawCentredString(width / 2, height - 8 * MM, mark)
        canvas.setFont("Helvetica-Bold", 110)
        canvas.setFillColor(DRAFT_GREY)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, -35, "DRAFT")
        canvas.restoreState()

    return draw


def render_notice(spec: NoticeSpec) -> bytes:
    """The notice as PDF bytes (A4 portrait, numbered pages). Texts are drawn as written: markup-like characters
    are escaped and Chinese lines wrap."""
    if any(len(row) != len(spec.table.columns) for row in spec.table.rows) or (
            len(spec.table.columns) != len(spec.table.widths)):
        raise ValueError("every row needs one text per column, and every column a width")
    regular, bold = _fonts(spec)
    width = A4[0] - 2 * MARGIN
    text = ParagraphStyle("text", fontName=regular, fontSize=10, leading=15, wordWrap="CJK", spaceAfter=3 * MM)
    label = ParagraphStyle("label", fontName=bold, fontSize=9, leading=12, wordWrap="CJK")
    value = ParagraphStyle("value", fontName=regular, fontSize=9, leading=12, wordWrap="CJK")
    facts = LongTable([[_para(k, label), _para(v, value)] for k, v in spec.facts],
                      colWidths=[width * 0.3, width * 0.7])
    facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#dddddd"))]))
    rows = spec.table.rows or ((spec.empty, *("" for _ in spec.table.columns[1:])),)
    story: list[object] = [
        _para(spec.title, ParagraphStyle("h1", fontName=bold, fontSize=20, leading=26, alignment=1)),
        _para(spec.organisation, ParagraphStyle("org", fontName=regular, fontSize=11, leading=15, alignment=1)),
        Spacer(1, 6 * MM), facts, Spacer(1, 5 * MM),
        *(_para(paragraph, text) for paragraph in spec.statement),
        *table_section(TableSpec(spec.table.heading, spec.table.columns, spec.table.widths, rows), width, regular,
                       bold, word_wrap="CJK"),
        Spacer(1, 12 * MM),
        *(_para(line, ParagraphStyle("sign", parent=text, spaceAfter=8 * MM, leftIndent=width * 0.45))
          for line in spec.signature),
    ]
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * MM,
                                 bottomMargin=MARGIN + 4 * MM, title=spec.title, author="SealFlow", invariant=True)
    marker = _draft_marker(spec.draft_mark, regular)
    document.build(story, onFirstPage=marker, onLaterPages=marker,
                   canvasmaker=numbered_canvas(spec.footer, spec.page_label, regular))
    return out.getvalue()
