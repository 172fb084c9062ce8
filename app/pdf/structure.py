"""The document's skeleton, walked with limits: the page tree and the form fields.

qpdf, pdfium and pyHanko each walk these structures their own way; a loop, a page listed twice or a wrong
/Count makes one of them loop, crash, or (worse) pick another page than the others. What passes here is a
tree all three read alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pikepdf

from app.pdf.errors import InvalidPdfError

__all__ = ["MAX_FIELD_DEPTH", "MAX_TREE_DEPTH", "check_form_fields", "check_page_tree", "inherited"]

# A page tree or /Parent chain deeper than this is not a document but a trap (real ones are a few levels deep);
# pyHanko's side (app/pdf/revisions.py, sign.py) walks with the same bound.
MAX_TREE_DEPTH = 64
MAX_FIELD_DEPTH = 32


def inherited(node: pikepdf.Object | None, key: str) -> pikepdf.Object | None:
    """An inheritable page attribute (/Resources, /MediaBox, /CropBox, /Rotate): the page's own, or the nearest
    ancestor's, walking /Parent at most MAX_TREE_DEPTH steps."""
    seen: set[tuple[int, int]] = set()
    for _ in range(MAX_TREE_DEPTH):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        value = node.get(key)
        if value is not None:
            return value
        if node.is_indirect:
            if node.objgen in seen:
                break
            seen.add(node.objgen)
        node = node.get("/Parent")
        if node is None:
            return None
    raise InvalidPdfError("the page tree is damaged: a page's /Parent chain loops or is too deep")


def check_page_tree(pdf: pikepdf.Pdf) -> None:
    """Refuse a page tree that loops, lists a node twice, is deeper than MAX_TREE_DEPTH, holds something that is
    not a page or a page-tree node, or whose /Count or /Parent entries contradict its /Kids."""
    root = pdf.Root.get("/Pages")
    if not isinstance(root, pikepdf.Dictionary) or not root.is_indirect:
        raise InvalidPdfError("the page tree is damaged: the catalog's /Pages is not a page-tree node")
    if root.get("/Parent") is not None:
        raise InvalidPdfError("the page tree is damaged: its root has a /Parent")
    leaves = _count_leaves(root, set(), 0)
    if leaves != len(pdf.pages):
        raise InvalidPdfError(f"the page tree is damaged: it holds {leaves} pages, but {len(pdf.pages)} are read")


def _count_leaves(node: pikepdf.Dictionary, seen: set[tuple[int, int]], depth: int) -> int:
    if depth > MAX_TREE_DEPTH:
        raise InvalidPdfError(f"the page tree is more than {MAX_TREE_DEPTH} levels deep")
    kids = node.get("/Kids")
    if not isinstance(kids, pikepdf.Array):
        raise InvalidPdfError("the page tree is damaged: a node has no /Kids array")
    total = 0
    for kid in kids:
        if not isinstance(kid, pikepdf.Dictionary) or not kid.is_indirect:
            raise InvalidPdfError("the page tree is damaged: it lists something that is not a page")
        if kid.objgen in seen:
            raise InvalidPdfError("the page tree is damaged: it lists a page or node twice, or loops")
        seen.add(kid.objgen)
        parent = kid.get("/Parent")
        if not isinstance(parent, pikepdf.Dictionary) or parent.objgen != node.objgen:
            raise InvalidPdfError("the page tree is damaged: a page's /Parent is not the node that lists it")
        kind = kid.get("/Type")
        if kind == pikepdf.Name.Pages:
            total += _count_leaves(kid, seen, depth + 1)
        elif kind == pikepdf.Name.Page:
            total += 1
        else:
            raise InvalidPdfError("the page tree is damaged: a node is neither /Page nor /Pages")
    count = node.get("/Count")
    if not isinstance(count, int) or isinstance(count, bool) or count != total:  # pyHanko finds pages by /Count
        raise InvalidPdfError(f"the page tree is damaged: a node's /Count says {count}, but it holds {total} pages")
    return total


def check_form_fields(pdf: pikepdf.Pdf) -> None:
    """Refuse form fields (/AcroForm) that signing could not read: a /Fields that is no array, fields that are no
    dictionaries, a /Kids loop, a field tree deeper than MAX_FIELD_DEPTH, a widget without a proper /Rect."""
    for _name, _kind, field in _fields(pdf):
        rect = field.get("/Rect")
        if rect is not None and not _is_rect(rect):
            raise InvalidPdfError("the PDF's form is damaged: a field's /Rect is not a rectangle")
        value = field.get("/V")
        if field.get("/FT") == pikepdf.Name.Sig and value is not None and not isinstance(value, pikepdf.Dictionary):
            raise InvalidPdfError("the PDF's form is damaged: a signature field's value is not a signature")


def _fields(pdf: pikepdf.Pdf) -> Iterator[tuple[str, str, pikepdf.Dictionary]]:
    acroform = pdf.Root.get("/AcroForm")
    if acroform is None:
        return
    if not isinstance(acroform, pikepdf.Dictionary):
        raise InvalidPdfError("the PDF's form is damaged: /AcroForm is not a dictionary")
    fields = acroform.get("/Fields", pikepdf.Array())
    if not isinstance(fields, pikepdf.Array):
        raise InvalidPdfError("the PDF's form is damaged: /AcroForm /Fields is not an array")
    yield from _walk_fields(fields, "", "", set(), 0)


def _walk_fields(fields: pikepdf.Array, prefix: str, kind: str, seen: set[tuple[int, int]],
                 depth: int) -> Iterator[tuple[str, str, pikepdf.Dictionary]]:
    if depth > MAX_FIELD_DEPTH:
        raise InvalidPdfError(f"the PDF's form is damaged: its fields nest more than {MAX_FIELD_DEPTH} deep")
    for field in fields:
        if not isinstance(field, pikepdf.Dictionary):
            raise InvalidPdfError("the PDF's form is damaged: a field is not a dictionary")
        if field.is_indirect:
            if field.objgen in seen:
                raise InvalidPdfError("the PDF's form is damaged: a field is listed twice or loops")
            seen.add(field.objgen)
        title = field.get("/T")
        if title is not None and not isinstance(title, pikepdf.String):
            raise InvalidPdfError("the PDF's form is damaged: a field's name is not a string")
        name = ".".join(p for p in (prefix, str(title) if title is not None else "") if p)
        own = field.get("/FT")
        field_kind = str(own) if isinstance(own, pikepdf.Name) else kind
        kids = field.get("/Kids")
        if kids is None:
            yield name, field_kind, field
        elif isinstance(kids, pikepdf.Array):
            yield name, field_kind, field
            yield from _walk_fields(kids, name, field_kind, seen, depth + 1)
        else:
            raise InvalidPdfError("the PDF's form is damaged: a field's /Kids is not an array")


def _is_rect(value: pikepdf.Object) -> bool:
    if not isinstance(value, pikepdf.Array) or len(value) != 4:
        return False
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return False
    return all(abs(n) < 1e9 for n in numbers)
