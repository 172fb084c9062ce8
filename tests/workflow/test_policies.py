"""Decision tables are untrusted like diagrams: read safely, every cell vetted, problems reported where a diagram
calls the table, and a changed table makes the diagrams that use it deploy as a new version."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services import decision_tables
from app.workflow import InvalidDefinition
from app.workflow.parser import parse_definition
from app.workflow.policies import load_tables

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "seal_policies" / "required_approvals.dmn").read_bytes()
DIAGRAM = (ROOT / "tests" / "data" / "calls_policy.bpmn").read_bytes()
OPERATORS = {"seal_document"}


def _with_cell(old: str, new: str) -> bytes:
    """The shipped policy with one cell's text replaced."""
    text = SHIPPED.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


def _refusal(policy: bytes) -> str:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(DIAGRAM, "calls_policy.bpmn", OPERATORS, policies={"required_approvals.dmn": policy})
    return caught.value.message


def test_the_shipped_policy_is_clean_and_a_diagram_may_call_it():
    policies = load_tables(decision_tables.shipped())
    assert policies.unreadable == ()
    assert [t.problems for t in policies.tables.values()] == [()]
    parsed = parse_definition(DIAGRAM, "calls_policy.bpmn", OPERATORS, policies=decision_tables.shipped())
    assert parsed.process_id == "calls_policy"


TYPE_CELL = '<text>? in ("contract", "agreement")</text>'
AMOUNT_CELL = "<text>? &gt;= 100000</text>"


@pytest.mark.parametrize("old, new, reason", [
    (TYPE_CELL, "<text>? in ().__class__.__mro__</text>", "Attribute is not allowed"),
    (TYPE_CELL, "<text>__import__('os').system('id')</text>", "only these functions may be called"),
    (AMOUNT_CELL, "<text>? &gt;= (9 ** 9) ** (9 ** 9)</text>", "Pow is not allowed"),
    (AMOUNT_CELL, "<text>&gt;= 5</text>", "write comparisons with ?"),
    (TYPE_CELL, "<text>__builtins__</text>", "names starting with '_' are not allowed"),
    (TYPE_CELL, "<text>_x</text>", "names starting with '_' are not allowed"),
    (AMOUNT_CELL, "<text>" + "-" * 5000 + "1</text>", "nested more than 64 levels deep"),
    (AMOUNT_CELL, "<text>" + " + ".join(["1"] * 2000) + "</text>", "nested more than 64 levels deep"),
    (AMOUNT_CELL, "<text>len(&apos;%0999999999d&apos; % 0)</text>", "more memory than the limit allows"),
    (AMOUNT_CELL, "<text>round(1, -1000000000)</text>", "more than 1 s of CPU time"),
])
def test_a_hostile_or_ambiguous_input_cell_stops_every_diagram_that_calls_the_table(old: str, new: str,
                                                                                    reason: str):
    message = _refusal(_with_cell(old, new))
    assert "required_approvals.dmn" in message and "is refused" in message and reason in message


def test_a_hostile_output_cell_is_refused():
    text = SHIPPED.decode()
    start = text.index("<outputEntry")
    cell = text[text.index("<text>", start) + 6:text.index("</text>", start)]
    message = _refusal(text.replace(f"<text>{cell}</text>", "<text>[c for c in ().__class__.__mro__]</text>",
                                    1).encode())
    assert "the output" in message and "is refused" in message


def test_a_policy_with_an_external_entity_is_refused_before_anything_reads_it():
    hostile = SHIPPED.replace(b"<definitions", b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                                               b"<definitions", 1)
    assert "DOCTYPE and entity declarations are not allowed" in _refusal(hostile)


def test_a_diagram_calling_a_decision_no_policy_defines_is_refused_with_the_known_ones():
    diagram = DIAGRAM.replace(b"required_approvals", b"no_such_decision")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(diagram, "calls_policy.bpmn", OPERATORS, policies=decision_tables.shipped())
    assert "no_such_decision" in caught.value.message and "required_approvals" in caught.value.message


def test_a_changed_policy_makes_the_diagram_a_new_version():
    before = parse_definition(DIAGRAM, "calls_policy.bpmn", OPERATORS, policies=decision_tables.shipped())
    changed = _with_cell(AMOUNT_CELL, "<text>? &gt;= 200000</text>")
    after = parse_definition(DIAGRAM, "calls_policy.bpmn", OPERATORS, policies={"required_approvals.dmn": changed})
    assert before.content_hash != after.content_hash


def test_a_broken_table_is_its_own_problem_and_other_diagrams_still_validate():
    """A cell that would crash Python's parser, in one DMN file beside the shipped policy: the diagrams that do not
    call it validate and deploy as before; the one that calls it gets the file's problem, not a traceback."""
    broken = _with_cell(AMOUNT_CELL, "<text>" + "-" * 5_000 + "1</text>").replace(
        b'id="required_approvals"', b'id="broken_policy"')
    files = {**decision_tables.shipped(), "broken.dmn": broken}
    assert parse_definition(DIAGRAM, "calls_policy.bpmn", OPERATORS, policies=files).process_id == "calls_policy"
    calling_it = DIAGRAM.replace(b"required_approvals</spiffworkflow:calledDecisionId>",
                                 b"broken_policy</spiffworkflow:calledDecisionId>")
    assert calling_it != DIAGRAM
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(calling_it, "calls_policy.bpmn", OPERATORS, policies=files)
    message = caught.value.message
    assert "broken.dmn" in message and "nested more than 64 levels deep" in message and len(message) < 1000
