"""Turning BPMN XML into a SpiffWorkflow spec, safely, with every problem reported at once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import (
    BusinessRuleTaskParser,
    ServiceTaskParser,
    SpiffTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, UserTask

from app.workflow.assignment import CAMUNDA_ASSIGNEE, CAMUNDA_GROUPS, CAMUNDA_USERS
from app.workflow.errors import InvalidDefinition, Problem
from app.workflow.external_tasks import read_external_tasks
from app.workflow.policies import DecisionTable, Policies, decision_ref, load_tables
from app.workflow.safe_xml import parse_untrusted
from app.workflow.scripting import UnsafeExpression, vet
from app.workflow.serializer import spec_to_dict
from app.workflow.specs import AsyncServiceTask, SequentialEach
from app.workflow.validation import (
    BPMN_NS,
    CAMUNDA_NS,
    NS,
    POLICY_DATA,
    control_problems,
    requester_warnings,
    schema_problems,
    semantic_problems,
)

# Camunda Modeler's user-task attributes, kept as task properties under these names (assignment.py reads them).
_CAMUNDA_ASSIGNMENT = {"assignee": CAMUNDA_ASSIGNEE, "candidateUsers": CAMUNDA_USERS,
                       "candidateGroups": CAMUNDA_GROUPS}


class _UserTaskParser(UserTaskParser):
    """SpiffWorkflow's user-task parser, keeping Camunda's assignee and candidate attributes (it drops them)."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        extensions: dict[str, Any] = super().parse_extensions(node)
        camunda = {prop: self.node.get(f"{{{CAMUNDA_NS}}}{attr}") for attr, prop in _CAMUNDA_ASSIGNMENT.items()}
        camunda = {prop: value for prop, value in camunda.items() if value}
        if node is None and camunda:
            extensions["properties"] = {**camunda, **extensions.get("properties", {})}
        return extensions


class _BusinessRuleTaskParser(BusinessRuleTaskParser):
    """Finds the decision by Camunda's decisionRef too."""

    @staticmethod
    def get_decision_ref(node: Any) -> str | None:
        return decision_ref(node)


def _sequential_each(parser: type) -> type:
    """The task parser, building sequential multi-instances that can run more than once (specs.SequentialEach)."""
    if not issubclass(parser, SpiffTaskParser):
        return parser
    return type(parser.__name__, (parser,), {"SEQUENTIAL_MI_CLASS": SequentialEach})


class SealFlowParser(SpiffBpmnParser):
    """The spiff parser, with service tasks that wait for a background job, sequential multi-instances that
    work, and Camunda's assignment and decision attributes kept."""

    OVERRIDE_PARSER_CLASSES = {
        tag: (_sequential_each(parser), spec) for tag, (parser, spec) in {
            **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
            full_tag("serviceTask"): (ServiceTaskParser, AsyncServiceTask),
            full_tag("userTask"): (_UserTaskParser, UserTask),
            full_tag("businessRuleTask"): (_BusinessRuleTaskParser, BusinessRuleTask),
        }.items()
    }


@dataclass(frozen=True)
class ParsedDefinition:
    process_id: str
    name: str
    content_hash: str
    xml: str
    spec: dict[str, Any]


def parse_xml(data: bytes, source: str) -> etree._Element:
    """Parse an untrusted BPMN document."""
    root = parse_untrusted(data, source)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidDefinition([Problem("not a BPMN 2.0 document (no bpmn:definitions root)", file=source)])
    return root


# Every element whose text SpiffWorkflow evaluates (BPMN's own, and spiffworkflow's message extensions).
_EXPRESSION_TAGS = ("conditionExpression", "loopCardinality", "completionCondition", "timeDuration", "timeDate",
                    "timeCycle", "condition", "messagePath", "messagePayload")


def _owner(node: etree._Element) -> etree._Element:
    """The element an expression belongs to (a flow, a task, an event), for the problem report."""
    while node.get("id") is None and node.getparent() is not None:
        node = node.getparent()
    return node


def _element_problem(node: etree._Element, source: str, message: str) -> Problem:
    return Problem(message, node.get("id", ""), node.get("name", ""), source, node.sourceline)


_ID_SPACES = (BPMN_NS, "http://www.omg.org/spec/BPMN/20100524/DI")


def _check_safety(root: etree._Element, source: str, operators: Collection[str]) -> list[Problem]:
    """Duplicate ids, scripts, unsafe expressions and unknown service operators, before SpiffWorkflow parses."""
    problems = []
    seen: set[str] = set()
    for node in root.iter():
        # Ids are BPMN's (the model and its diagram); vendor extensions name parameters and operators with theirs.
        element_id = node.get("id") if isinstance(node.tag, str) and etree.QName(node).namespace in _ID_SPACES else None
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
    expressions = [(_owner(n), n.text or "") for tag in _EXPRESSION_TAGS for n in root.iter(f"{{*}}{tag}")
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
            vet(expression)
        except (UnsafeExpression, SyntaxError) as exc:
            problems.append(_element_problem(owner, source, f"expression refused: {exc}"))
    return problems


def _decisions(root: etree._Element, source: str, policies: Policies) -> tuple[list[DecisionTable], list[Problem]]:
    """The decision tables the diagram's business-rule tasks call, and what is wrong with those calls."""
    used: dict[str, DecisionTable] = {}
    problems: list[Problem] = []
    for task in root.iterfind(".//bpmn:businessRuleTask", NS):
        ref = decision_ref(task)
        if not ref:
            problems.append(_element_problem(task, source, "a business rule task needs a decision "
                                                           "(spiffworkflow:calledDecisionId)"))
        elif ref not in policies.tables:
            known = ", ".join(sorted(policies.tables)) or "none"
            problems.append(_element_problem(task, source, f"calls decision {ref!r}, which no policy file in "
                                                           f"seal_policies/ holds (known: {known})"))
            problems += policies.unreadable
        elif ref not in used:
            used[ref] = policies.tables[ref]
            problems += used[ref].problems
    return list(used.values()), problems


def _output_problems(root: etree._Element, source: str, tables: list[DecisionTable]) -> list[Problem]:
    """A decision table whose output a business-rule task would write into the policy step's data."""
    problems = []
    for table in tables:
        outputs = {o.get("name") for o in table.root.iter("{*}output")} & set(POLICY_DATA)
        if outputs:
            tasks = [t for t in root.iterfind(".//bpmn:businessRuleTask", NS) if decision_ref(t) == table.decision_id]
            for task in tasks:
                problems.append(_element_problem(task, source, f"decision {table.decision_id!r} ({table.source}) "
                                                               f"writes {', '.join(sorted(outputs))}, the policy "
                                                               "step's data, which only filing sets"))
    return problems


def _problems(root: etree._Element, source: str, operators: Collection[str],
              policies: Policies, sealing: Collection[str]) -> list[Problem]:
    problems = read_external_tasks(root, source) + _check_safety(root, source, operators)
    used, table_problems = _decisions(root, source, policies)
    problems += table_problems + _output_problems(root, source, used)
    problems += schema_problems(root, source)
    problems += semantic_problems(root, source)
    problems += control_problems(root, source, frozenset(sealing))
    processes = [p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "true") != "false"]
    if len(processes) != 1:
        problems.append(Problem(f"expected one executable process (isExecutable=\"true\"), found {len(processes)}",
                                file=source))
    return sorted(problems, key=lambda p: p.line or 0)


def _spiff_spec(root: etree._Element, source: str, process_id: str, tables: list[DecisionTable]) -> dict[str, Any]:
    parser = SealFlowParser()
    try:
        for table in tables:
            parser.add_dmn_xml(table.root, filename=table.source)
        parser.add_bpmn_xml(root, filename=source)
        return spec_to_dict(parser.get_spec(process_id), parser.get_subprocess_specs(process_id))
    except ValidationException as exc:
        raise InvalidDefinition([Problem(str(exc.args[0]) if exc.args else str(exc), getattr(exc, "id", "") or "",
                                         getattr(exc, "name", "") or "", source, getattr(exc, "line_number", None))]
                                ) from exc
    except SpiffWorkflowException as exc:
        raise InvalidDefinition([Problem(str(exc), file=source)]) from exc


def parse_definition(data: bytes, source: str, operators: Collection[str],
                     policies: Mapping[str, bytes] | None = None, sealing: Collection[str] | None = None
                     ) -> ParsedDefinition:
    """Parse and vet one BPMN file holding one executable process; InvalidDefinition lists every problem.

    policies: the DMN files (name -> content) its business-rule tasks may call; the version's content hash
    covers the tables it uses, so a changed policy deploys as a new version. sealing: the operators that apply a
    seal (default: every operator); a path to one of them must pass the policy step."""
    root = parse_xml(data, source)
    tables = load_tables(policies or {})
    problems = _problems(root, source, operators, tables, operators if sealing is None else sealing)
    if problems:
        raise InvalidDefinition(problems)
    used = _decisions(root, source, tables)[0]
    digest = hashlib.sha256(data)
    for table in sorted(used, key=lambda t: t.decision_id):
        digest.update(table.data)
    process = next(p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "true") != "false")
    process_id = process.get("id") or ""
    return ParsedDefinition(
        process_id=process_id,
        name=process.get("name") or process_id,
        content_hash=digest.hexdigest(),
        xml=data.decode("utf-8"),
        spec=_spiff_spec(root, source, process_id, used),
    )


def validate_definition(data: bytes, source: str, operators: Collection[str],
                        policies: Mapping[str, bytes] | None = None, sealing: Collection[str] | None = None
                        ) -> list[Problem]:
    """Everything that keeps the diagram from being deployed; empty when it would deploy."""
    try:
        parse_definition(data, source, operators, policies, sealing)
    except InvalidDefinition as exc:
        return exc.problems
    return []


def lint_definition(data: bytes, source: str) -> list[Problem]:
    """What may go wrong at run time though the diagram deploys (warnings): deciding tasks that could reach the
    requester. Empty for a document that cannot be read (validation says why)."""
    try:
        root = parse_xml(data, source)
    except InvalidDefinition:
        return []
    return requester_warnings(root, source)
