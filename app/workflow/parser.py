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
from app.workflow.validation import schema_problems, semantic_problems

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


_EXPRESSION_TAGS = ("conditionExpression", "loopCardinality", "completionCondition", "timeDuration", "timeDate",
                    "timeCycle")


def _owner(node: etree._Element) -> etree._Element:
    """The element an expression belongs to (a flow, a task, an event), for the problem report."""
    while node.get("id") is None and node.getparent() is not None:
        node = node.getparent()
    return node


def _element_problem(node: etree._Element, source: str, message: str) -> Problem:
    return Problem(message, node.get("id", ""), node.get("name", ""), source, node.sourceline)


def _check_safety(root: etree._Element, source: str, operators: Collection[str]) -> list[Problem]:
    """Duplicate ids, scripts, unsafe expressions and unknown service operators, before SpiffWorkflow parses."""
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
    return problems + _expression_problems(root, source, operators)


def _expression_problems(root: etree._Element, source: str, operators: Collection[str]) -> list[Problem]:
    """Every expression SpiffWorkflow would evaluate (conditions, multi-instance counts and completion
    conditions, timers, service parameters), and the service operators they feed."""
    problems = []
    expressions = [(_owner(n), n.text or "") for tag in _EXPRESSION_TAGS for n in root.iterfind(f".//bpmn:{tag}", NS)
                   if (n.text or "").strip()]
    for op in root.iter("{*}serviceTaskOperator"):
        task = op.getparent().getparent()
        if op.get("id") not in operators:
            problems.append(_element_problem(task, source, f"unknown service operator {op.get('id')!r}; "
                                                           f"SealFlow offers {', '.join(sorted(operators))}"))
        expressions += [(task, p.get("value", "")) for p in op.iter("{*}parameter")]
    for owner, expression in expressions:
        if "${" in expression or "#{" in expression:
            problems.append(_element_problem(owner, source, f"{expression.strip()!r} is a JUEL expression (Camunda); "
                                                            "SealFlow expressions are Python-style, e.g. "
                                                            "decision == 'approve'"))
            continue
        try:
            check_expression(expression)
        except (UnsafeExpression, SyntaxError) as exc:
            problems.append(_element_problem(owner, source, f"expression refused: {exc}"))
    return problems


def _problems(root: etree._Element, source: str, operators: Collection[str],
              known_processes: Collection[str]) -> list[Problem]:
    problems = _check_safety(root, source, operators)
    problems += schema_problems(root, source)
    problems += semantic_problems(root, source, known_processes)
    processes = [p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "true") != "false"]
    if len(processes) != 1:
        problems.append(Problem(f"expected one executable process (isExecutable=\"true\"), found {len(processes)}",
                                file=source))
    return sorted(problems, key=lambda p: p.line or 0)


def _spiff_spec(root: etree._Element, source: str, process_id: str) -> dict[str, Any]:
    parser = SealFlowParser()
    try:
        parser.add_bpmn_xml(root, filename=source)
        return spec_to_dict(parser.get_spec(process_id), parser.get_subprocess_specs(process_id))
    except ValidationException as exc:
        raise InvalidDefinition([Problem(str(exc.args[0]) if exc.args else str(exc), getattr(exc, "id", "") or "",
                                         getattr(exc, "name", "") or "", source, getattr(exc, "line_number", None))]
                                ) from exc
    except SpiffWorkflowException as exc:
        raise InvalidDefinition([Problem(str(exc), file=source)]) from exc


def parse_definition(data: bytes, source: str, operators: Collection[str],
                     known_processes: Collection[str] = ()) -> ParsedDefinition:
    """Parse and vet one BPMN file holding one executable process; InvalidDefinition lists every problem."""
    root = parse_xml(data, source)
    problems = _problems(root, source, operators, known_processes)
    if problems:
        raise InvalidDefinition(problems)
    process = next(p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "true") != "false")
    process_id = process.get("id") or ""
    return ParsedDefinition(
        process_id=process_id,
        name=process.get("name") or process_id,
        content_hash=hashlib.sha256(data).hexdigest(),
        xml=data.decode("utf-8"),
        spec=_spiff_spec(root, source, process_id),
    )


def validate_definition(data: bytes, source: str, operators: Collection[str],
                        known_processes: Collection[str] = ()) -> list[Problem]:
    """Everything that keeps the diagram from being deployed; empty when it would deploy."""
    try:
        parse_definition(data, source, operators, known_processes)
    except InvalidDefinition as exc:
        return exc.problems
    return []
