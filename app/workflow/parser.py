"""Turning BPMN XML into a SpiffWorkflow spec, safely, with every problem reported at once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, SpiffProcessParser
from SpiffWorkflow.spiff.parser.task_spec import (
    BusinessRuleTaskParser,
    ServiceTaskParser,
    SpiffTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, UserTask

from app.workflow import calls, camunda
from app.workflow.assignment import CAMUNDA_ASSIGNEE, CAMUNDA_GROUPS, CAMUNDA_USERS
from app.workflow.calls import DeployedProcess, FindDeployed, Processes, find_processes
from app.workflow.control import POLICY_DATA, control_problems
from app.workflow.errors import InvalidDefinition, Problem
from app.workflow.external_tasks import read_external_tasks
from app.workflow.policies import DecisionTable, Policies, decision_ref, load_tables
from app.workflow.safe_xml import parse_untrusted
from app.workflow.scripting import UnsafeExpression, vet
from app.workflow.serializer import spec_to_dict
from app.workflow.specs import AsyncServiceTask, ParallelEach, SequentialEach
from app.workflow.validation import (
    BPMN_NS,
    CAMUNDA_NS,
    NS,
    PROPERTY_PATHS,
    is_sealflow_rule,
    requester_warnings,
    schema_problems,
    semantic_problems,
)

# Camunda Modeler's user-task attributes, kept as task properties under these names (assignment.py reads them).
_CAMUNDA_ASSIGNMENT = {"assignee": CAMUNDA_ASSIGNEE, "candidateUsers": CAMUNDA_USERS,
                       "candidateGroups": CAMUNDA_GROUPS}


class _UserTaskParser(UserTaskParser):
    """SpiffWorkflow's user-task parser, keeping Camunda's assignee and candidate attributes (it drops them) and
    Camunda's extension properties (spiffworkflow:properties win over camunda:properties)."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        extensions: dict[str, Any] = super().parse_extensions(node)
        if node is not None:
            return extensions
        camunda_attributes = {prop: self.node.get(f"{{{CAMUNDA_NS}}}{attr}")
                              for attr, prop in _CAMUNDA_ASSIGNMENT.items()}
        if is_sealflow_rule((camunda_attributes[CAMUNDA_ASSIGNEE] or "").strip()):  # e.g. Assignee: policy
            camunda_attributes["assignee"] = camunda_attributes.pop(CAMUNDA_ASSIGNEE).strip()
        camunda_properties = {p.get("name"): p.get("value", "") for p in self.node.iterfind(
            f"bpmn:extensionElements/{PROPERTY_PATHS[CAMUNDA_NS]}", {**NS, "camunda": CAMUNDA_NS}) if p.get("name")}
        found = {**{k: v for k, v in camunda_attributes.items() if v}, **camunda_properties}
        if found:
            extensions["properties"] = {**found, **extensions.get("properties", {})}
        return extensions


class _BusinessRuleTaskParser(BusinessRuleTaskParser):
    """Finds the decision by Camunda's decisionRef too."""

    @staticmethod
    def get_decision_ref(node: Any) -> str | None:
        return decision_ref(node)


class _CamundaLoop:
    """Reads Camunda's multi-instance (camunda:collection and camunda:elementVariable, with no loopDataInputRef)
    as BPMN's loop over a data input with an input item: each instance gets one item of the collection. Mixed into
    SpiffWorkflow's task parsers (see _task_parser), whose attributes it uses."""

    def _add_multiinstance_task(self, loop: Any) -> None:
        parser: Any = self
        collection = camunda.collection_variable(loop.get(f"{{{CAMUNDA_NS}}}collection") or "")
        if collection is None:
            super()._add_multiinstance_task(loop)  # type: ignore[misc]
            return
        element = loop.get(f"{{{CAMUNDA_NS}}}elementVariable")
        original = parser.spec.task_specs.pop(parser.task.name)
        cls = parser.SEQUENTIAL_MI_CLASS if loop.get("isSequential") == "true" else parser.PARALLEL_MI_CLASS
        parser.task = cls(parser.spec, original.name, task_spec="", cardinality=None,
                          data_input=TaskDataReference(collection), data_output=None,
                          input_item=TaskDataReference(element) if element else None, output_item=None,
                          condition=loop.findtext("bpmn:completionCondition", None, NS),
                          description="Camunda MultiInstance")
        parser._copy_task_attrs(original, loop)


def _task_parser(parser: type) -> type:
    """The task parser, reading Camunda's multi-instance and building multi-instances that can run more than once
    (specs.SequentialEach, specs.ParallelEach)."""
    if not issubclass(parser, SpiffTaskParser):
        return parser
    return type(parser.__name__, (_CamundaLoop, parser),
                {"SEQUENTIAL_MI_CLASS": SequentialEach, "PARALLEL_MI_CLASS": ParallelEach})


class _ProcessParser(SpiffProcessParser):
    """Finds a process's elements by the ids of its model only: an extension element (a Camunda form field, say)
    whose id is also a flow node's must not stand in for that node."""

    def _index_process_nodes(self) -> None:
        super()._index_process_nodes()
        self.nodes_by_id = {node.get("id"): node for node in self.xpath(".//*[@id]")
                            if etree.QName(node).namespace == BPMN_NS}


class SealFlowParser(SpiffBpmnParser):
    """The spiff parser, with service tasks that wait for a background job, multi-instances that work (and
    Camunda's), and Camunda's assignment, property and decision attributes kept."""

    PROCESS_PARSER_CLASS = _ProcessParser
    OVERRIDE_PARSER_CLASSES = {
        tag: (_task_parser(parser), spec) for tag, (parser, spec) in {
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
_EXPRESSION_TAGS = (*camunda.EXPRESSION_TAGS, "messagePath", "messagePayload")


def _owner(node: etree._Element) -> etree._Element:
    """The element an expression belongs to (a flow, a task, an event), for the problem report."""
    while (node.get("id") is None or etree.QName(node).localname.endswith("EventDefinition")) \
            and node.getparent() is not None:
        node = node.getparent()
    return node


_ID_SPACES = (BPMN_NS, "http://www.omg.org/spec/BPMN/20100524/DI")


def _duplicate_problems(root: etree._Element, source: str) -> list[Problem]:
    """Ids are BPMN's (the model and its diagram); vendor extensions name parameters, operators and form fields with
    theirs, which may repeat and may equal a model's id."""
    problems = []
    seen: set[str] = set()
    for node in root.iter():
        element_id = node.get("id") if isinstance(node.tag, str) and etree.QName(node).namespace in _ID_SPACES else None
        if element_id and element_id in seen:
            problems.append(Problem.at(node, source, f"the id {element_id!r} is used by more than one element"))
        seen.add(element_id or "")
    return problems


def _script_problems(root: etree._Element, source: str) -> list[Problem]:
    problems = []
    for node in root.iterfind(".//bpmn:scriptTask", NS):
        problems.append(Problem.at(node, source, "script tasks are not allowed; use a service task"))
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.endswith(("}preScript", "}postScript")) and (node.text or "").strip():
            problems.append(Problem.at(node.getparent().getparent(), source, "pre/post scripts are not allowed"))
    return problems


def _read_camunda_forms(root: etree._Element, source: str) -> list[Problem]:
    """Rewrite, in the parsed tree, every expression written as Camunda writes it (plain ISO 8601 timers, JUEL,
    FEEL) in SealFlow's form (camunda.sealflow_form); what cannot be read is a problem quoting it."""
    problems = []
    for tag in camunda.EXPRESSION_TAGS:
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if not (node.text or "").strip():
                continue
            try:
                node.text = camunda.sealflow_form(tag, node.text or "", node.get("language")).text
            except camunda.CamundaFormError as exc:
                problems.append(Problem.at(_owner(node), source, str(exc)))
                node.text = None  # reported once: not vetted again
    return problems


def _quoted(expression: str, limit: int = 200) -> str:
    text = " ".join(expression.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _expression_problems(root: etree._Element, source: str, operators: Collection[str]) -> list[Problem]:
    """Every expression SpiffWorkflow would evaluate (conditions, multi-instance counts and completion
    conditions, timers, service parameters), and the service operators they feed."""
    problems = []
    expressions = [(_owner(n), n.text or "") for tag in _EXPRESSION_TAGS for n in root.iter(f"{{*}}{tag}")
                   if (n.text or "").strip()]
    for op in root.iter("{*}serviceTaskOperator"):
        task = op.getparent().getparent()
        if op.get("id") not in operators:
            problems.append(Problem.at(task, source, f"unknown service operator {op.get('id')!r}; "
                                                     f"SealFlow offers {', '.join(sorted(operators))}"))
        expressions += [(task, p.get("value", "")) for p in op.iter("{*}parameter")]
    for owner, expression in expressions:
        if "${" in expression or "#{" in expression:
            problems.append(Problem.at(owner, source, f"{_quoted(expression)} is a JUEL expression (Camunda); "
                                                      f"SealFlow expressions are Python-style, e.g. {camunda.EXAMPLE}"))
            continue
        try:
            vet(expression)
        except UnsafeExpression as exc:
            quoted = "" if _quoted(expression)[1:-1] in str(exc) else f": {_quoted(expression)}"
            problems.append(Problem.at(owner, source, f"expression refused: {exc}{quoted}"))
        except SyntaxError as exc:
            problems.append(Problem.at(owner, source, f"expression refused: {_quoted(expression)} is not a valid "
                                                      f"expression ({exc.msg}); write it as SealFlow's Python-style "
                                                      f"expression, e.g. {camunda.EXAMPLE}"))
    return problems


def _decisions(root: etree._Element, source: str, policies: Policies) -> tuple[list[DecisionTable], list[Problem]]:
    """The decision tables the diagram's business-rule tasks call, and what is wrong with those calls."""
    used: dict[str, DecisionTable] = {}
    problems: list[Problem] = []
    for task in root.iterfind(".//bpmn:businessRuleTask", NS):
        ref = decision_ref(task)
        if not ref:
            problems.append(Problem.at(task, source, "a business rule task needs a decision "
                                                           "(camunda:decisionRef or spiffworkflow:calledDecisionId)"))
        elif ref not in policies.tables:
            known = ", ".join(sorted(policies.tables)) or "none"
            problems.append(Problem.at(task, source, f"calls decision {ref!r}, which no policy file in "
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
                problems.append(Problem.at(task, source, f"decision {table.decision_id!r} ({table.source}) "
                                                               f"writes {', '.join(sorted(outputs))}, the policy "
                                                               "step's data, which only filing sets"))
    return problems


def _problems(root: etree._Element, source: str, operators: Collection[str], policies: Policies,
              sealing: Collection[str], processes: Processes) -> list[Problem]:
    problems = read_external_tasks(root, source) + _duplicate_problems(root, source) + _script_problems(root, source)
    problems += _read_camunda_forms(root, source) + _expression_problems(root, source, operators)
    used, table_problems = _decisions(root, source, policies)
    problems += table_problems + _output_problems(root, source, used)
    problems += schema_problems(root, source)
    problems += semantic_problems(root, source, processes.runnable)
    problems += control_problems(root, source, frozenset(sealing), processes.runnable)
    problems += processes.problems
    if processes.main is None:
        count = calls.main_process(root)[1]
        problems.append(Problem(f"expected one executable process (isExecutable=\"true\") that no other process of "
                                f"the file calls, found {count}", file=source))
    return sorted(problems, key=lambda p: p.line or 0)


def _spiff_spec(root: etree._Element, source: str, process_id: str, tables: list[DecisionTable],
                deployed: Mapping[str, DeployedProcess] | None = None) -> dict[str, Any]:
    """The process's spec and those of the processes it calls: drawn in the file, or deployed (their stored spec,
    with the processes they call in turn)."""
    parser = SealFlowParser()
    try:
        for table in tables:
            parser.add_dmn_xml(table.root, filename=table.source)
        parser.add_bpmn_xml(root, filename=source)
        called = parser.get_subprocess_specs(process_id, require_call_activity_specs=False)
        spec = spec_to_dict(parser.get_spec(process_id), {k: v for k, v in called.items() if v is not None})
    except ValidationException as exc:
        raise InvalidDefinition([Problem(str(exc.args[0]) if exc.args else str(exc), getattr(exc, "id", "") or "",
                                         getattr(exc, "name", "") or "", source, getattr(exc, "line_number", None))]
                                ) from exc
    except SpiffWorkflowException as exc:
        raise InvalidDefinition([Problem(str(exc), file=source)]) from exc
    for process_id_called, process in sorted((deployed or {}).items()):
        spec["subprocess_specs"][process_id_called] = process.spec["spec"]
        for name, subprocess in process.spec["subprocess_specs"].items():
            spec["subprocess_specs"].setdefault(name, subprocess)
    return spec


def parse_definition(data: bytes, source: str, operators: Collection[str],
                     policies: Mapping[str, bytes] | None = None, sealing: Collection[str] | None = None,
                     find_deployed: FindDeployed | None = None) -> ParsedDefinition:
    """Parse and vet one BPMN file holding one process that runs (and the processes it calls, if any);
    InvalidDefinition lists every problem.

    policies: the DMN files (name -> content) its business-rule tasks may call; the version's content hash
    covers the tables it uses, so a changed policy deploys as a new version. sealing: the operators that apply a
    seal (default: every operator); a path to one of them must pass the policy step. find_deployed: looks up a
    deployed process a call activity calls that the file does not hold (None: only the file's processes may be
    called); the called version's content is covered by the hash too."""
    root = parse_xml(data, source)
    tables = load_tables(policies or {})
    processes = find_processes(root, source, find_deployed)
    problems = _problems(root, source, operators, tables, operators if sealing is None else sealing, processes)
    if problems or processes.main is None:
        raise InvalidDefinition(problems)
    used = _decisions(root, source, tables)[0]
    digest = hashlib.sha256(data)
    for table in sorted(used, key=lambda t: t.decision_id):
        digest.update(table.data)
    for called in sorted(processes.deployed.values(), key=lambda p: p.process_id):
        digest.update(f"\0{called.process_id}\0{called.content_hash}".encode())
    process_id = processes.main.get("id") or ""
    return ParsedDefinition(
        process_id=process_id,
        name=processes.main.get("name") or process_id,
        content_hash=digest.hexdigest(),
        xml=data.decode("utf-8"),
        spec=_spiff_spec(root, source, process_id, used, processes.deployed),
    )


def validate_definition(data: bytes, source: str, operators: Collection[str],
                        policies: Mapping[str, bytes] | None = None, sealing: Collection[str] | None = None,
                        find_deployed: FindDeployed | None = None) -> list[Problem]:
    """Everything that keeps the diagram from being deployed; empty when it would deploy."""
    try:
        parse_definition(data, source, operators, policies, sealing, find_deployed)
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
