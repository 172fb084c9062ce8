"""The certificate of completion of a sealed application: who asked, which document (its hashes), each decision,
each signature, the audit chain's head, and the path on the diagram drawn as vector graphics; drawn with reportlab
(A4 portrait) for the system seal to sign (app/pdf/sign.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Circle, Drawing, Group, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import KeepTogether, LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from app.pdf.fonts import font_for
from app.pdf.geometry import MM
from app.pdf.ledger import numbered_canvas

__all__ = ["SIGNATURE_BOX", "CertificateSpec", "DiagramBox", "DiagramLine", "TableSpec", "render_certificate",
           "table_section"]

MARGIN = 16 * MM
# Where the system seal's signature shows: the first page's top margin, on the right (x1, y1, x2, y2).
SIGNATURE_BOX = (A4[0] - MARGIN - 70 * MM, A4[1] - 15 * MM, A4[0] - MARGIN, A4[1] - 3 * MM)
DONE, WAITING, TAKEN = colors.HexColor("#1b7f3b"), colors.HexColor("#b7791f"), colors.HexColor("#1b7f3b")
IDLE = colors.HexColor("#9aa0a6")
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
CONTAINERS = ("participant", "lane")


@dataclass(frozen=True)
class DiagramBox:
    """A diagram element as drawn (bounds in the diagram's units, y downwards), and how often the path passed it."""

    kind: str
    name: str
    bounds: tuple[float, float, float, float]
    passes: int = 0
    waiting: bool = False


@dataclass(frozen=True)
class DiagramLine:
    points: tuple[tuple[float, float], ...]
    taken: int = 0


@dataclass(frozen=True)
class TableSpec:
    heading: str
    columns: tuple[str, ...]
    widths: tuple[float, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class CertificateSpec:
    """Everything the certificate says, already in the reader's language."""

    title: str
    subtitle: str
    facts: tuple[tuple[str, str], ...]
    tables: tuple[TableSpec, ...]
    diagram_heading: str
    boxes: tuple[DiagramBox, ...]
    lines: tuple[DiagramLine, ...]
    legend: str
    closing: str
    footer: str
    page_label: str = "{page} / {pages}"


def _fonts(spec: CertificateSpec) -> tuple[str, str]:
    texts = [spec.title, spec.subtitle, spec.diagram_heading, spec.legend, spec.closing, spec.footer,
             *(t for fact in spec.facts for t in fact), *(b.name for b in spec.boxes)]
    for table in spec.tables:
        texts += [table.heading, *table.columns, *(cell for row in table.rows for cell in row)]
    face = font_for("".join(texts))
    return ("Helvetica", "Helvetica-Bold") if face == "Helvetica-Bold" else (face, face)


def _box_shape(box: DiagramBox, top: float, font: str) -> Group:
    x, y, width, height = box.bounds
    y = top - y - height  # the diagram's y runs downwards
    colour = WAITING if box.waiting else DONE if box.passes else IDLE
    stroke = 1.6 if box.passes or box.waiting else 0.6
    group = Group()
    if box.kind in CONTAINERS:
        group.add(Rect(x, y, width, height, strokeColor=colors.HexColor("#cccccc"), fillColor=None, strokeWidth=0.4))
        return group
    fill = colors.Color(colour.red, colour.green, colour.blue, alpha=0.12) if box.passes or box.waiting else None
    if box.kind in EVENTS:
        radius = min(width, height) / 2
        group.add(Circle(x + width / 2, y + height / 2, radius, strokeColor=colour, fillColor=fill,
                         strokeWidth=stroke * (2 if box.kind == "endEvent" else 1)))
        label_y = y - 7
    elif box.kind.endswith("Gateway"):
        cx, cy = x + width / 2, y + height / 2
        group.add(Polygon([cx, y, x + width, cy, cx, y + height, x, cy], strokeColor=colour, fillColor=fill,
                          strokeWidth=stroke))
        label_y = y - 7
    else:
        group.add(Rect(x, y, width, height, rx=6, ry=6, strokeColor=colour, fillColor=fill, strokeWidth=stroke))
        label_y = y + height / 2 - 3
    if box.name:
        group.add(String(x + width / 2, label_y, box.name[:40], fontName=font, fontSize=7, textAnchor="middle",
                         fillColor=colors.black))
    if box.passes > 1:
        group.add(String(x + width, y + height + 2, f"×{box.passes}", fontName=font, fontSize=7, textAnchor="end",
                         fillColor=DONE))
    return group


def _diagram(spec: CertificateSpec, font: str, max_width: float, max_height: float) -> Drawing | None:
    points = [p for line in spec.lines for p in line.points]
    corners = [(b.bounds[0] + dx, b.bounds[1] + dy) for b in spec.boxes
               for dx, dy in ((0, 0), (b.bounds[2], b.bounds[3]))]
    every = points + corners
    if not every:
        return None
    left, top = min(x for x, _ in every) - 10, min(y for _, y in every) - 14
    right, bottom = max(x for x, _ in every) + 10, max(y for _, y in every) + 14
    scale = min(max_width / (right - left), max_height / (bottom - top), 1.0)
    inner = Group()
    height = bottom - top
    for box in sorted(spec.boxes, key=lambda b: b.kind not in CONTAINERS):
        inner.add(_box_shape(DiagramBox(box.kind, box.name, (box.bounds[0] - left, box.bounds[1] - top,
                                                             box.bounds[2], box.bounds[3]), box.passes, box.waiting),
                             height, font))
    for line in spec.lines:
        flat = [c for x, y in line.points for c in (x - left, height - (y - top))]
        if len(flat) >= 4:
            inner.add(PolyLine(flat, strokeColor=TAKEN if line.taken else IDLE, strokeWidth=1.8 if line.taken else 0.6))
    inner.scale(scale, scale)
    drawing = Drawing((right - left) * scale, height * scale)
    drawing.add(inner)
    return drawing


def table_section(table: TableSpec, width: float, regular: str, bold: str,
                  word_wrap: str | None = None) -> list[object]:
    """A table under its heading, the column headings repeated on each page; `word_wrap="CJK"` breaks Chinese text
    anywhere (reportlab's default breaks only at spaces)."""
    cell = ParagraphStyle("cell", fontName=regular, fontSize=8, leading=10, wordWrap=word_wrap)
    head = ParagraphStyle("head", fontName=bold, fontSize=8, leading=10, wordWrap=word_wrap)
    rows = [[Paragraph(escape(c), head) for c in table.columns],
            *[[Paragraph(escape(c), cell) for c in row] for row in table.rows]]
    body = LongTable(rows, colWidths=[width * w for w in table.widths], repeatRows=1)
    body.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#999999")),
                              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                              ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    title = Paragraph(escape(table.heading), ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14,
                                                            spaceBefore=8, spaceAfter=4))
    return [title, body]


def render_certificate(spec: CertificateSpec) -> bytes:
    """The certificate as an unsigned PDF."""
    regular, bold = _fonts(spec)
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                                 bottomMargin=MARGIN + 4 * MM, title=spec.title, author="SealFlow")
    width = A4[0] - 2 * MARGIN
    text = ParagraphStyle("text", fontName=regular, fontSize=9, leading=12)
    story: list[object] = [
        Paragraph(escape(spec.title), ParagraphStyle("h1", fontName=bold, fontSize=18, leading=22)),
        Paragraph(escape(spec.subtitle), text), Spacer(1, 4 * MM)]
    facts = LongTable([[Paragraph(escape(k), ParagraphStyle("k", fontName=bold, fontSize=9, leading=12)),
                        Paragraph(escape(v), text)] for k, v in spec.facts], colWidths=[width * 0.28, width * 0.72])
    facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    story.append(facts)
    for table in spec.tables:
        story += table_section(table, width, regular, bold)
    drawing = _diagram(spec, regular, width, 110 * MM)
    if drawing is not None:
        story.append(KeepTogether([
            Paragraph(escape(spec.diagram_heading), ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14,
                                                                   spaceBefore=8, spaceAfter=4)),
            drawing, Paragraph(escape(spec.legend), ParagraphStyle("legend", fontName=regular, fontSize=7.5,
                                                                   leading=10, textColor=colors.HexColor("#555555")))]))
    story += [Spacer(1, 6 * MM), Paragraph(escape(spec.closing), text)]
    document.build(story, canvasmaker=numbered_canvas(spec.footer, spec.page_label, regular))
    return out.getvalue()
