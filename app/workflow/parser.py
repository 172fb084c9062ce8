"""Turning BPMN XML into a SpiffWorkflow spec, safely, with every problem reported at once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from app.workflow.errors import InvalidDefinition, Problem
from app.workflow.scripting import UnsafeExpression, check_expression
from app.workflow.serializer import spec_to_dict
from app.workflow.specs import AsyncServiceTask

MAX_BPMN_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}


class SealFlowParser(SpiffBpmnParser):
    """The spiff parser, with service tasks that wait for a background job."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, AsyncServiceTask),
    }


@dataclass(frozen=True)
class ParsedDefinition:
    process_id: str
    name: str
    content_hash: str
    xml: str
    spec: dict[str, Any]


def parse_xml(data: bytes, source: str) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network, bounded size."""
    if len(data) > MAX_BPMN_BYTES:
        raise InvalidDefinition([Problem(f"the file is larger than {MAX_BPMN_BYTES // 1024} KiB", file=source)])
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise InvalidDefinition([Problem("DOCTYPE and entity declarations are not allowed", file=source)])
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidDefinition([Problem(f"not well-formed XML: {exc.msg}", file=source, line=exc.lineno)]) from exc
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidDefinition([Problem("not a BPMN 2.0 document (no bpmn:definitions root)", file=source)])
    return root


def _element_problem(node: etree._Element, source: str, message: str) -> Problem:
    return Problem(message, node.get("id", ""), node.get("name", ""), source, node.sourceline)


def _check_safety(root: etree._Element, source: str, operators: Collection[str]) -> list[Problem]:
    """Scripts, unsafe expressions and unknown service operators, found before SpiffWorkflow parses."""
    problems = []
    seen: set[str] = set()
    for node in root.iter():
        element_id = node.get("id") if isinstance(node.tag, str) else None
        if element_id and element_id in seen:
            problems.append(_element_problem(node, source, f"the id {element_id!r} is used by more than one element"))
        seen.add(element_id or "")
    for node in root.iterfind(".//bpmn:scriptTask", NS):
        problems.append(_element_problem(node, source, "script tasks are not allowed; use a service task"))
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.endswith(("}preScript", "}postScript")) and (node.text or "").strip():
            problems.append(_element_problem(node.getparent().getparent(), source, "pre/post scripts are not allowed"))
    expressions = [(n.getparent(), n.text or "") for n in root.iterfind(".//bpmn:conditionExpression", NS)]
    for op in root.iter("{*}serviceTaskOperator"):
        task = op.getparent().getparent()
        if op.get("id") not in operators:
            problems.append(_element_problem(task, source, f"unknown service operator {op.get('id')!r}; "
                                                           f"SealFlow offers {', '.join(sorted(operators))}"))
        expressions += [(task, p.get("value", "")) for p in op.iter("{*}parameter")]
    for owner, expression in expressions:
        try:
            check_expression(expression)
        except (UnsafeExpression, SyntaxError) as exc:
            problems.append(_element_problem(owner, source, f"expression refused: {exc}"))
    return problems


def parse_definition(data: bytes, source: str, operators: Collection[str]) -> ParsedDefinition:
    """Parse and vet one BPMN file holding one executable process."""
    root = parse_xml(data, source)
    problems = _check_safety(root, source, operators)
    processes = [p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "true") != "false"]
    if len(processes) != 1:
        problems.append(Problem(f"expected one executable process, found {len(processes)}", file=source))
    if problems:
        raise InvalidDefinition(problems)
    process_id = processes[0].get("id")
    parser = SealFlowParser()
    try:
        parser.add_bpmn_xml(root, filename=source)
        spec = parser.get_spec(process_id)
        subprocesses = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        raise InvalidDefinition([Problem(str(exc.args[0]) if exc.args else str(exc), getattr(exc, "id", "") or "",
                                         getattr(exc, "name", "") or "", source, getattr(exc, "line_number", None))]
                                ) from exc
    except SpiffWorkflowException as exc:
        raise InvalidDefinition([Problem(str(exc), file=source)]) from exc
    return ParsedDefinition(
        process_id=process_id,
        name=processes[0].get("name") or process_id,
        content_hash=hashlib.sha256(data).hexdigest(),
        xml=data.decode("utf-8"),
        spec=spec_to_dict(spec, subprocesses),
    )
