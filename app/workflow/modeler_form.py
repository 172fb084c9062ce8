"""Diagrams as the browser modeler reads them. SpiffWorkflow names a multi-instance's collection and item by
variable (`<loopDataInputRef>required_approvals</loopDataInputRef>`, an inputDataItem named `required_approval`),
which BPMN means as references to elements: bpmn-js drops a reference to no element, and the next save would lose
the loop. Camunda writes the same loop as `camunda:collection` and `camunda:elementVariable`, which SealFlow reads
too; a diagram is handed to the modeler in that form."""

from __future__ import annotations

from lxml import etree

from app.workflow.safe_xml import parse_untrusted

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def _ids(root: etree._Element) -> set[str]:
    return {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}


def for_modeler(data: bytes, source: str) -> bytes:
    """The diagram with every multi-instance collection that names a variable written in Camunda's form."""
    root = parse_untrusted(data, source)
    ids = _ids(root)
    changed = False
    for loop in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        ref = loop.find(f"{{{BPMN_NS}}}loopDataInputRef")
        item = loop.find(f"{{{BPMN_NS}}}inputDataItem")
        collection = (ref.text or "").strip() if ref is not None else ""
        if not collection or collection in ids or loop.get(f"{{{CAMUNDA_NS}}}collection"):
            continue
        loop.set(f"{{{CAMUNDA_NS}}}collection", collection)
        loop.remove(ref)
        if item is not None and (item.get("name") or item.get("id")):
            loop.set(f"{{{CAMUNDA_NS}}}elementVariable", item.get("name") or item.get("id") or "")
            loop.remove(item)
        changed = True
    if not changed:
        return data
    etree.cleanup_namespaces(root, top_nsmap={"camunda": CAMUNDA_NS})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
