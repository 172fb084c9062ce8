"""A timeout is told apart from a broken document, however a library reports it."""

from __future__ import annotations

import io

from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from rq.timeouts import JobTimeoutException

from app.errors import InvalidDocument
from app.jobs.deadline import Deadline, timed_out
from app.pdf import InvalidPdfError
from tests.conftest import corpus_pdf


def _as_the_document_error(cause: BaseException, explicit: bool) -> InvalidDocument:
    """What pyHanko, app.pdf and services.documents make of an error raised inside the parser: wrapped three times,
    `from` it (explicit) or merely while handling it (implicit, as a library that forgets `from` does)."""
    try:
        try:
            try:
                raise cause
            except Exception as exc:
                if explicit:
                    raise PdfReadError("Failed to read dictionary key") from exc
                raise PdfReadError("Failed to read dictionary key")  # noqa: B904
        except PdfReadError as exc:
            raise InvalidPdfError(f"the PDF cannot be signed: {exc}") from exc
    except InvalidPdfError as exc:
        try:
            raise InvalidDocument(str(exc)) from exc
        except InvalidDocument as error:
            return error


def test_a_timeout_wrapped_as_a_pdf_error_is_a_timeout():
    timeout = JobTimeoutException("Task exceeded maximum timeout value (1 seconds)")
    assert timed_out(_as_the_document_error(timeout, explicit=True))
    assert timed_out(_as_the_document_error(timeout, explicit=False))


def test_a_pdf_error_is_not_a_timeout():
    assert not timed_out(_as_the_document_error(KeyError("/Root"), explicit=True))
    assert not timed_out(InvalidDocument("the PDF is damaged and cannot be read"))


def _parse_until_caught(data: bytes) -> Exception | None:
    """Parse the document with pyHanko again and again, object by object, until the deadline fires: the error it
    fired as (RQ's timeout as it is, or whatever pyHanko made of it), or None when pyHanko swallowed it."""
    try:
        while not Deadline.fired:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            for revision in range(reader.xrefs.total_revisions):
                for reference in reader.xrefs.explicit_refs_in_revision(revision):
                    reader.get_object(reference)
    except Exception as exc:
        return exc
    return None


def test_a_deadline_that_fires_inside_pyhankos_parser_is_recorded_whatever_the_parser_makes_of_it():
    data = corpus_pdf("google-doc-document.pdf")
    with Deadline(1, JobTimeoutException):
        caught = _parse_until_caught(data)
        # Raised as it is, wrapped, or even swallowed by the parser (which then fails on something else): the
        # runner asks timed_out() about the error the job ends with, and the deadline's record answers.
        assert Deadline.fired
        assert timed_out(caught or InvalidDocument("the PDF is damaged and cannot be read"))
    assert not Deadline.fired  # over with the job: the next job starts with a clean slate
