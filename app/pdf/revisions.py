"""Incremental updates that keep every earlier signature valid, as pyHanko's validator (the one `verify_pdf` uses)
judges them.

The validator compares each signed revision with every later one and allows few changes: new signature fields and
their widgets, filled fields, validation data, document time-stamps. It reads each page's /Annots and the form's
/Fields as arrays of references, judges anything else there illegal, and wants every path to a changed object
explained. So `prepare_update` mends, in the update that precedes or carries a document's first signature, what
would make any later update illegal, and refuses a later update before anything is written when a certification or
the file's structure forbids it; `check_update` judges the finished update as the validator will before it is handed
back.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError as PyHankoPdfError
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.status import SignatureCoverageLevel

from app.pdf.errors import AlreadySignedError, InvalidPdfError, library_message
from app.pdf.structure import MAX_TREE_DEPTH

__all__ = [
    "MAX_TREE_DEPTH",
    "check_update",
    "permitted_level",
    "prepare_update",
    "quiet_diff_analysis",
]


# Document information is text, dates (strings) and /Trapped (a name); the rest of a shared dictionary is the form's.
_INFO_VALUES = (generic.TextStringObject, generic.ByteStringObject, generic.NameObject)

_CHANGES = {
    ModificationLevel.NONE: "nothing",
    ModificationLevel.LTA_UPDATES: "validation data and document time-stamps",
    ModificationLevel.FORM_FILLING: "signatures and form filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "page content or other objects",
}


def permitted_level(embedded: EmbeddedPdfSignature) -> ModificationLevel:
    """The most that later revisions may change under this signature: what its certification allows or, for an
    approval signature, signatures and form filling (pyHanko would also let annotations through, and an annotation
    can cover the signed text)."""
    certified = embedded.docmdp_level
    return ModificationLevel(certified.value) if certified is not None else ModificationLevel.FORM_FILLING


class _DemoteTracebacks(logging.Filter):
    """pyHanko logs every illegal change it finds as a warning with a traceback; SealFlow reports the reason itself,
    so the record goes on at debug level, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_DEMOTE = _DemoteTracebacks()


def quiet_diff_analysis() -> None:
    """Keep pyHanko's diff analysis from printing tracebacks (to a command's terminal, a worker's log)."""
    logging.getLogger("pyhanko.sign.diff_analysis.policies").addFilter(_DEMOTE)  # once: addFilter ignores repeats


def _entry(holder: Any, key: str) -> Any:
    """The value under `key`, references followed (pyHanko's `get` does not follow them), or None."""
    return holder[key] if isinstance(holder, generic.DictionaryObject) and key in holder else None


def _pages(node: Any, depth: int = 0, seen: frozenset[Any] = frozenset()) -> Iterator[tuple[Any, Any]]:
    """(reference, dictionary) of every page under a page tree node, in order."""
    if depth > MAX_TREE_DEPTH:
        raise InvalidPdfError("the page tree is damaged: it loops or is too deep")
    kids = _entry(node.get_object(), "/Kids")
    for kid in kids if isinstance(kids, generic.ArrayObject) else ():
        if not isinstance(kid, generic.IndirectObject) or kid.reference in seen:
            raise InvalidPdfError("the page tree is damaged: a page is listed directly or twice on one path")
        value = kid.get_object()
        if _entry(value, "/Type") == "/Pages" or _entry(value, "/Kids") is not None:
            yield from _pages(kid, depth + 1, seen | {kid.reference})
        elif isinstance(value, generic.DictionaryObject):
            yield kid, value


def _direct_entries(holder: Any, key: str) -> bool:
    """Whether the array under `key` lists anything but references."""
    array = _entry(holder, key)
    return isinstance(array, generic.ArrayObject) and any(not isinstance(e, generic.IndirectObject) for e in array)


def _make_entries_indirect(writer: IncrementalPdfFileWriter, holder: Any, holder_ref: Any, key: str) -> None:
    """Replace the direct dictionaries in the array under `key` by references to them (dropping anything that is
    no dictionary: it is no annotation or field either)."""
    if not _direct_entries(holder, key):
        return
    raw = holder.raw_get(key)
    array = raw.get_object()
    array[:] = [entry if isinstance(entry, generic.IndirectObject) else writer.add_object(entry)
                for entry in array if isinstance(entry, (generic.IndirectObject, generic.DictionaryObject))]
    writer.mark_update(raw if isinstance(raw, generic.IndirectObject) else holder_ref)


def _own_annotations(writer: IncrementalPdfFileWriter, page: Any, page_ref: Any, arrays: set[Any]) -> None:
    """Give the page its own /Annots array when an earlier page shares it: a widget added to one page would show on
    every page that shares the array."""
    raw = page.raw_get("/Annots") if "/Annots" in page else None
    if not isinstance(raw, generic.IndirectObject):
        return
    if raw.reference in arrays:
        page["/Annots"] = writer.add_object(generic.ArrayObject(raw.get_object()))  # iterating keeps references
        writer.mark_update(page_ref)
    arrays.add(raw.reference)


def _first_page_with_direct_annotations(reader: PdfFileReader) -> int | None:
    for number, (_ref, page) in enumerate(_pages(reader.root.raw_get("/Pages")), start=1):
        if _direct_entries(page, "/Annots"):
            return number
    return None


def _separate_info(writer: IncrementalPdfFileWriter) -> None:
    """Give the update a fresh /Info when the old one is also the catalog, the form or an entry of theirs: every
    update rewrites /Info (its modification date), and the validator would see the form change with it."""
    info = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
    if not isinstance(info, generic.IndirectObject):
        return
    root_ref = writer.trailer.raw_get("/Root")
    holders = [writer.root]
    form = _entry(writer.root, "/AcroForm")
    if isinstance(form, generic.DictionaryObject):
        holders.append(form)
    shared = {root_ref.reference} | {value.reference for holder in holders for value in holder.values()
                                     if isinstance(value, generic.IndirectObject)}
    if info.reference not in shared:
        return
    old = info.get_object()
    writer.set_info(generic.DictionaryObject({key: value for key, value in old.items()
                                              if isinstance(value, _INFO_VALUES)}))


def _tidy_unsigned(writer: IncrementalPdfFileWriter) -> None:
    """Mend, in an update that no signature precedes, what would make any later update illegal to the validator
    (annotations or form fields written directly into /Annots or /Fields, an /Info that is also the form) or show a
    later signature twice (pages that share one /Annots array)."""
    arrays: set[Any] = set()
    for page_ref, page in _pages(writer.root.raw_get("/Pages")):
        _make_entries_indirect(writer, page, page_ref, "/Annots")
        _own_annotations(writer, page, page_ref, arrays)
    form_ref = writer.root.raw_get("/AcroForm") if "/AcroForm" in writer.root else None
    form = form_ref.get_object() if form_ref is not None else None
    if isinstance(form, generic.DictionaryObject):
        holder_ref = form_ref if isinstance(form_ref, generic.IndirectObject) else writer.trailer.raw_get("/Root")
        _make_entries_indirect(writer, form, holder_ref, "/Fields")
    _separate_info(writer)


def prepare_update(writer: IncrementalPdfFileWriter, field_name: str | None, *, new_field: bool,
                   new_timestamp: bool = False, certify: bool = False) -> bool:
    """Make the update about to be written one the document's signatures allow: on an unsigned document, mend what
    would make later updates illegal; on a signed one, refuse (AlreadySignedError) what its signatures forbid.
    Returns whether the document is signed already: then `check_update` must judge the result.

    :param field_name: the field to be signed, or None when the update only adds empty fields.
    :param new_field: the update creates a visible signature field.
    :param new_timestamp: the update adds a document time-stamp (B-LTA), hence an invisible field.
    :param certify: the update is a certification signature.
    """
    signed = {str(name): value for name, value, _ref in enumerate_sig_fields(writer.prev, filled_status=True)}
    if not signed:
        _tidy_unsigned(writer)
        return False
    _refuse_forbidden(writer, signed, field_name, new_field=new_field, new_timestamp=new_timestamp, certify=certify)
    return True


def _refuse_forbidden(writer: IncrementalPdfFileWriter, signed: dict[str, Any], field_name: str | None, *,
                      new_field: bool, new_timestamp: bool, certify: bool) -> None:
    if certify:
        raise AlreadySignedError(f"a certification signature must be the document's first, and it is signed already "
                                 f"({', '.join(repr(name) for name in signed)})")
    certification = read_certification_data(writer.prev)
    if certification is not None:
        author = next((repr(name) for name, value in signed.items()
                       if value.get_object() is certification.author_sig.get_object()), "its first signature")
        if certification.permission == MDPPerm.NO_CHANGES:
            raise AlreadySignedError(f"the document is certified by {author} with no changes allowed; another "
                                     "signature or field would invalidate the certification")
        if new_field:
            free = [str(name) for name, _value, _ref in enumerate_sig_fields(writer.prev, filled_status=False)]
            offer = f" (its empty ones: {', '.join(free)})" if free else " (it has none)"
            wanted = f"one named {field_name!r}" if field_name else "new ones"
            raise AlreadySignedError(f"the document is certified by {author}: later signatures may only fill the "
                                     f"empty signature fields it was certified with, not {wanted}{offer}")
    if new_field or new_timestamp:
        page = _first_page_with_direct_annotations(writer.prev)
        if page is not None:
            raise AlreadySignedError(f"a new signature field would invalidate the signatures the document carries: "
                                     f"page {page} lists annotations by value, which validators refuse to compare")


def _problem(embedded: EmbeddedPdfSignature, old: HistoricalResolver, new: HistoricalResolver) -> str | None:
    """Why the validator would judge the change from the signed revision `old` to `new` illegal, or None."""
    try:
        result = DEFAULT_DIFF_POLICY.apply(old, new, embedded.fieldmdp, embedded.docmdp_level)
    except (SuspiciousModification, PyHankoPdfError) as exc:
        return library_message(exc)
    allowed, level = permitted_level(embedded), result.modification_level
    if level > allowed:
        return f"it allows {_CHANGES[allowed]} only, and the update changes {_CHANGES[level]}"
    return None


def _readable_signatures(reader: PdfFileReader) -> Iterator[EmbeddedPdfSignature]:
    """The signatures that cover a whole revision; one that cannot be read, or covers less, is invalid already."""
    for name, _value, field in enumerate_sig_fields(reader, filled_status=True):
        try:
            embedded = EmbeddedPdfSignature(reader, field, name)
            if embedded.evaluate_signature_coverage() >= SignatureCoverageLevel.ENTIRE_REVISION:
                yield embedded
        except (PyHankoPdfError, ValueError, KeyError, TypeError):
            continue


def check_update(data: bytes, revisions_before: int) -> None:
    """Judge the revisions from `revisions_before` on as the validator will: refuse the update when it would
    invalidate an earlier signature that the revisions before it left valid.

    :raises AlreadySignedError: naming the signature and what the validator would say.
    """
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    revisions = reader.xrefs.total_revisions
    for embedded in _readable_signatures(reader):
        signed = embedded.signed_revision
        if signed >= revisions_before:
            continue  # made by this update
        old = reader.get_historical_resolver(signed)
        if any(_problem(embedded, old, reader.get_historical_resolver(r)) for r in range(signed + 1, revisions_before)):
            continue  # already changed beyond what it allows: this update is not what breaks it
        for revision in range(revisions_before, revisions):
            problem = _problem(embedded, old, reader.get_historical_resolver(revision))
            if problem:
                raise AlreadySignedError(f"the update would invalidate the earlier signature "
                                         f"{embedded.field_name!r} (the validator's finding: {problem})")
