from pathlib import Path

import pytest

from app.services import decision_tables
from app.workflow import InvalidDefinition
from app.workflow.parser import parse_definition
from tests.conftest import CORPUS, DATA

ROOT = Path(__file__).resolve().parents[2]
OPERATORS = {"seal_document"}


def _refusal(path: Path) -> str:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(path.read_bytes(), path.name, OPERATORS)
    return caught.value.message


def test_shipped_diagram_parses():
    parsed = parse_definition((ROOT / "bpmn/seal_application.bpmn").read_bytes(), "seal_application.bpmn", OPERATORS,
                              policies=decision_tables.shipped())
    assert parsed.process_id == "seal_application"
    assert "spec" in parsed.spec and len(parsed.content_hash) == 64


@pytest.mark.parametrize("name, message", [
    ("xxe.bpmn", "DOCTYPE and entity declarations are not allowed"),
    ("entity_bomb.bpmn", "DOCTYPE and entity declarations are not allowed"),
    ("script_task.bpmn", "script tasks are not allowed"),
    ("unsafe_condition.bpmn", "[f2] expression refused"),
    ("unsafe_conditional_event.bpmn", "[c] expression refused: Attribute is not allowed"),
    ("unknown_operator.bpmn", "unknown service operator 'format_disk'"),
    ("not_xml.bpmn", "not well-formed XML"),
])
def test_hostile_or_broken_diagrams_are_refused_with_the_reason(name: str, message: str):
    assert message in _refusal(DATA / name)


def test_every_problem_is_reported_at_once_with_element_and_line():
    message = _refusal(DATA / "several_problems.bpmn")
    assert "[run_it (Run it)] script tasks are not allowed" in message
    assert "several_problems.bpmn:" in message
    assert "unknown service operator 'format_disk'" in message


@pytest.mark.parametrize("path", sorted((CORPUS / "bpmn").glob("*.bpmn")), ids=lambda p: p.name)
def test_corpus_diagrams_are_accepted_or_refused_clearly(path: Path):
    try:
        parsed = parse_definition(path.read_bytes(), path.name, OPERATORS)
    except InvalidDefinition as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert parsed.process_id
