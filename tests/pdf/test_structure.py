"""The page tree and form fields are walked with cycle and depth limits; what would loop or crash a reader
(qpdf, pdfium or pyHanko) is refused by inspection with a clear message."""

import io
from collections.abc import Callable

import pikepdf
import pytest

from app.pdf import InvalidPdfError, inspect_pdf
from app.pdf.structure import MAX_TREE_DEPTH, inherited
from tests.conftest import corpus_pdf

Edit = Callable[[pikepdf.Pdf], None]


def _edited(edit: Edit, name: str = "pdflatex-4-pages.pdf") -> bytes:
    with pikepdf.open(io.BytesIO(corpus_pdf(name))) as pdf:
        edit(pdf)
        out = io.BytesIO()
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)  # dictionaries stay readable bytes
        return out.getvalue()


def _self_parent(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].obj.Parent = pdf.pages[1].obj


def _deep(pdf: pikepdf.Pdf) -> None:
    node = pdf.Root.Pages
    for _ in range(MAX_TREE_DEPTH + 5):
        child = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Kids=node.Kids, Count=node.Count,
                                                     Parent=node))
        for kid in child.Kids:
            kid.Parent = child
        node.Kids = pikepdf.Array([child])
        node = child


def _fields(value: object) -> Edit:
    def edit(pdf: pikepdf.Pdf) -> None:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=value)
    return edit


def _field_loop(pdf: pikepdf.Pdf) -> None:
    field = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("Seal")))
    field.Kids = pikepdf.Array([field])
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))


def _bad_rect(pdf: pikepdf.Pdf) -> None:
    widget = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("Seal"),
                                                  Subtype=pikepdf.Name.Widget, Rect=pikepdf.Name.R))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]))


@pytest.mark.parametrize("edit, message", [
    (_self_parent, "Loop detected|page tree is damaged"),
    (_deep, f"more than {MAX_TREE_DEPTH} levels deep"),
    (_fields(7), r"/AcroForm /Fields is not an array"),
    (_fields(pikepdf.Array([3])), "a field is not a dictionary"),
    (_field_loop, "listed twice or loops"),
    (_bad_rect, "/Rect is not a rectangle"),
])
def test_a_damaged_skeleton_is_refused_with_a_message(edit: Edit, message: str):
    with pytest.raises(InvalidPdfError, match=message) as refused:
        inspect_pdf(_edited(edit))
    assert "0x" not in str(refused.value)


def test_a_wrong_count_is_refused():
    """pyHanko finds a page by the /Count of each node: a wrong one would put the signature on another page."""
    data = _edited(lambda pdf: None).replace(b"/Count 4", b"/Count 9")
    with pytest.raises(InvalidPdfError, match="/Count says 9, but it holds 4 pages"):
        inspect_pdf(data)


def test_a_page_listed_twice_is_repaired_by_qpdf_and_said_so():
    def twice(pdf: pikepdf.Pdf) -> None:
        pdf.Root.Pages.Kids.append(pdf.Root.Pages.Kids[0])
        pdf.Root.Pages.Count = 5

    info = inspect_pdf(_edited(twice))  # stamping writes the repaired tree, which signing then reads
    assert info.page_count == 5 and any("appears more than once" in r for r in info.repairs)


def test_inherited_attributes_are_found_and_a_parent_loop_is_refused():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    page = pdf.pages[0].obj
    pdf.Root.Pages.Rotate = 90
    assert inherited(page, "/Rotate") == 90 and inherited(page, "/Nothing") is None
    pdf.Root.Pages.Parent = page
    with pytest.raises(InvalidPdfError, match="/Parent chain loops"):
        inherited(page, "/Nothing")
