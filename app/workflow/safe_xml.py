"""Parsing untrusted XML (diagrams and decision tables): no DTD, no entities, no network, bounded size."""

from __future__ import annotations

from lxml import etree

from app.workflow.errors import InvalidDefinition, Problem

MAX_XML_BYTES = 2 * 1024 * 1024


def parse_untrusted(data: bytes, source: str) -> etree._Element:
    """The document's root element; InvalidDefinition says why a document is refused."""
    if len(data) > MAX_XML_BYTES:
        raise InvalidDefinition([Problem(f"the file is larger than {MAX_XML_BYTES // 1024} KiB", file=source)])
    # Refused outright rather than ignored: an entity bomb or XXE attempt is never a diagram to run.
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise InvalidDefinition([Problem("DOCTYPE and entity declarations are not allowed", file=source)])
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidDefinition([Problem(f"not well-formed XML: {exc.msg}", file=source, line=exc.lineno)]) from exc
