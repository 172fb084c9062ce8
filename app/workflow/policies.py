"""Decision tables (DMN) a diagram's business-rule tasks call, such as the approval policy in seal_policies/.

They are untrusted input like diagrams: parsed safely, and every cell SpiffWorkflow would evaluate is vetted
against the expression whitelist before a diagram that uses the table may deploy.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from app.workflow.errors import InvalidDefinition, Problem
from app.workflow.safe_xml import parse_untrusted
from app.workflow.scripting import UnsafeExpression, check_expression, vet

HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
# SpiffWorkflow puts the input value where a cell says `?` (outside quotes), e.g. `1000 < ? <= 5000`.
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


@dataclass(frozen=True)
class DecisionTable:
    """One decision of a DMN file, and what is wrong with the file (reported where a diagram uses it)."""

    decision_id: str
    source: str
    data: bytes
    root: etree._Element
    problems: tuple[Problem, ...] = field(default=())


def _vet(expression: str) -> str | None:
    """Why an expression is refused, or None."""
    try:
        vet(expression)
    except (UnsafeExpression, SyntaxError) as exc:
        return str(exc)
    return None


def _parses(text: str) -> bool:
    """Whether the text is an expression by Python's syntax alone (SpiffWorkflow's test for `(input) == (cell)`)."""
    try:
        check_expression(text)
    except SyntaxError:
        return False
    except UnsafeExpression:
        return True
    return True


def _cell_problem(input_expression: str, cell: str) -> str | None:
    """Why SpiffWorkflow's reading of an input cell is refused: it compares `(input) == (cell)` when the cell is
    an expression by itself, fills in `?`, and otherwise glues the cell's text straight onto the input
    expression's."""
    if _QUESTION_MARK.search(cell):
        return _vet(_QUESTION_MARK.sub("dmninputexpr", cell))
    if _parses(cell):
        return _vet(cell) or _vet(f"({input_expression}) == ({cell})")
    if not _IDENTIFIER.match(input_expression) or cell[:1].isalpha() or cell[:1] == "_":
        # `amount or 0` + `>= 5` would read `amount or (0 >= 5)`; `document_type` + `in (…)` one word.
        return "write comparisons with ?, e.g. `? >= 100000` or `? in (\"contract\", \"agreement\")`"
    return _vet(f"{input_expression}{cell}")


def _table_problems(root: etree._Element, source: str) -> list[Problem]:
    problems = []
    for table in root.iter("{*}decisionTable"):
        policy = table.get("hitPolicy", "UNIQUE").upper()
        if policy not in HIT_POLICIES:
            problems.append(Problem.at(table, source, f"hit policy {policy} is not supported; use "
                                                    f"{', '.join(HIT_POLICIES)}"))
        inputs = [(i.findtext("{*}inputExpression/{*}text") or "").strip() for i in table.iterfind("{*}input")]
        for node, text in zip(table.iterfind("{*}input"), inputs, strict=True):
            if not text:
                problems.append(Problem.at(node, source, "the input has no expression"))
            elif (reason := _vet(text)) is not None:
                problems.append(Problem.at(node, source, f"input expression refused: {reason}"))
        for rule in table.iterfind("{*}rule"):
            problems += _rule_problems(rule, inputs, source)
    return problems


def _shown(cell: str, limit: int = 120) -> str:
    """A cell's text for a message, cut short: a refused cell may be thousands of characters long."""
    return repr(cell if len(cell) <= limit else cell[:limit] + "…")


def _rule_problems(rule: etree._Element, inputs: list[str], source: str) -> list[Problem]:
    problems = []
    cells = [(c.findtext("{*}text") or "").strip() for c in rule.iterfind("{*}inputEntry")]
    for text, cell in zip(inputs, cells, strict=False):
        if cell not in ("", "-") and (reason := _cell_problem(text or "x", cell)) is not None:
            problems.append(Problem.at(rule, source, f"the cell {_shown(cell)} is refused: {reason}"))
    for entry in rule.iterfind("{*}outputEntry"):
        cell = (entry.findtext("{*}text") or "").strip()
        if cell and (reason := _vet(cell)) is not None:
            problems.append(Problem.at(rule, source, f"the output {_shown(cell)} is refused: {reason}"))
    return problems


@dataclass(frozen=True)
class Policies:
    """The decision tables by decision id, and the files that could not be read as DMN at all."""

    tables: dict[str, DecisionTable]
    unreadable: tuple[Problem, ...]


def load_tables(files: Mapping[str, bytes]) -> Policies:
    """The decisions in the given DMN files (name -> content)."""
    tables: dict[str, DecisionTable] = {}
    unreadable: list[Problem] = []
    for source, data in sorted(files.items()):
        try:
            root = parse_untrusted(data, source)
        except InvalidDefinition as exc:
            unreadable += exc.problems
            continue
        if etree.QName(root).namespace not in DMN_SCHEMAS or etree.QName(root).localname != "definitions":
            unreadable.append(Problem("not a DMN 1.1-1.3 document (no dmn:definitions root)", file=source))
            continue
        problems = tuple(_table_problems(root, source))
        decisions = list(root.iterfind("{*}decision"))
        if len(decisions) != 1:
            problems += (Problem(f"expected one decision in the file, found {len(decisions)}", file=source),)
        for decision in decisions:
            tables[decision.get("id") or ""] = DecisionTable(decision.get("id") or "", source, data, root, problems)
    return Policies(tables, tuple(unreadable))


CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def decision_ref(node: etree._Element) -> str | None:
    """The decision a business-rule task calls: spiffworkflow:calledDecisionId, or Camunda's decisionRef."""
    called = next(node.iter("{*}calledDecisionId"), None)
    if called is not None and (called.text or "").strip():
        return (called.text or "").strip()
    return node.get(f"{{{CAMUNDA_NS}}}decisionRef")


def called_decisions(bpmn: bytes, source: str) -> set[str]:
    """The decisions a diagram's business-rule tasks call."""
    root = parse_untrusted(bpmn, source)
    return {ref for task in root.iter("{*}businessRuleTask") if (ref := decision_ref(task))}


def defined_decisions(data: bytes, source: str) -> list[str]:
    """The ids of the decisions a DMN file defines, in its order (none when it cannot be read: table_problems says
    why)."""
    try:
        root = parse_untrusted(data, source)
    except InvalidDefinition:
        return []
    return [decision.get("id") or "" for decision in root.iterfind("{*}decision")]


def table_problems(data: bytes, source: str) -> tuple[str, list[Problem]]:
    """The decision a DMN file holds and every problem that keeps it from being deployed (unreadable, not DMN, more
    or fewer than one decision, unsupported hit policy, refused expressions in any cell)."""
    tables = load_tables({source: data})
    if tables.unreadable:
        return "", list(tables.unreadable)
    if len(tables.tables) != 1:
        problems = [p for t in tables.tables.values() for p in t.problems]
        return "", problems[:1] or [Problem("expected one decision in the file, found none", file=source)]
    table = next(iter(tables.tables.values()))
    if table.root.find("{*}decision/{*}decisionTable") is None:
        return table.decision_id, [Problem("the decision is not a decision table", table.decision_id, file=source)]
    return table.decision_id, list(table.problems)


def literal_outputs(data: bytes, source: str, output: str) -> list[tuple[etree._Element, object]] | None:
    """Every rule's value for one output, where the cell is a literal (a quoted string, a number …): (rule, value);
    None when the table has no such output."""
    root = parse_untrusted(data, source)
    found: list[tuple[etree._Element, object]] | None = None
    for table in root.iter("{*}decisionTable"):
        names = [o.get("name") for o in table.iterfind("{*}output")]
        if output not in names:
            continue
        found = found or []
        column = names.index(output)
        for rule in table.iterfind("{*}rule"):
            entries = list(rule.iterfind("{*}outputEntry"))
            text = (entries[column].findtext("{*}text") or "").strip() if column < len(entries) else ""
            try:
                found.append((rule, ast.literal_eval(text)))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
    return found


@dataclass(frozen=True)
class TableRule:
    rule_id: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class TableView:
    """A decision table as text, for reading and comparing versions."""

    hit_policy: str
    inputs: tuple[str, ...]  # the inputs' labels (or expressions)
    outputs: tuple[str, ...]  # the outputs' labels (or names)
    rules: tuple[TableRule, ...]


def table_view(data: bytes, source: str) -> TableView:
    """The first decision table of a DMN file as text."""
    root = parse_untrusted(data, source)
    table = next(root.iter("{*}decisionTable"), None)
    if table is None:
        raise InvalidDefinition([Problem("the file holds no decision table", file=source)])
    inputs = tuple(i.get("label") or (i.findtext("{*}inputExpression/{*}text") or "").strip()
                   for i in table.iterfind("{*}input"))
    outputs = tuple(o.get("label") or o.get("name") or "" for o in table.iterfind("{*}output"))
    rules = tuple(TableRule(rule.get("id") or "",
                            tuple((c.findtext("{*}text") or "").strip() for c in rule.iterfind("{*}inputEntry")),
                            tuple((c.findtext("{*}text") or "").strip() for c in rule.iterfind("{*}outputEntry")))
                  for rule in table.iterfind("{*}rule"))
    return TableView(table.get("hitPolicy", "UNIQUE").upper(), inputs, outputs, rules)
