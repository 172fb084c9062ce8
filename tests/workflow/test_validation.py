"""Validation lists everything that keeps a diagram from running, each with element, file and line."""

from pathlib import Path

import pytest

from app.models import RoleName
from app.workflow import lint
from app.workflow.parser import validate_definition
from app.workflow.validation import role_of
from tests.conftest import DATA

OPERATORS = {"seal_document"}


def test_every_kind_of_problem_is_listed_at_once_with_its_element_and_line():
    problems = validate_definition((DATA / "validation_problems.bpmn").read_bytes(), "validation_problems.bpmn",
                                   OPERATORS)
    found = {(p.element_id, p.line): p.message for p in problems}
    expected = {
        ("f1", 36): "targetRef 'nowhere' is no element",
        ("nobody", 15): "nobody can do this task",
        ("clerk_review", 16): "nobody can do this task: its lane 'Clerks' names no SealFlow role",
        ("odd_rule", 18): "unknown assignee rule 'role:janitor'",
        ("no_operator", 28): "a service task needs a SealFlow operator",
        ("call_missing", 29): "calls process 'not_deployed_anywhere', which is neither in this file nor deployed",
    }
    for (element, line), text in expected.items():
        assert text in found.get((element, line), ""), (element, line, found)
    refused = [p for p in problems if p.message.startswith("expression refused")]
    assert {p.element_id for p in refused} == {"odd_rule", "wait"}  # completion condition and timer (its event)
    assert not any(p.element_id == "admin_review" for p in problems)
    assert not any(p.element_id in ("f2", "lane_clerks") for p in problems)  # ${approved} reads as approved
    assert [p.line or 0 for p in problems] == sorted(p.line or 0 for p in problems)


def test_a_called_process_must_be_in_the_same_file_or_deployed():
    problems = validate_definition((DATA / "validation_problems.bpmn").read_bytes(), "v.bpmn", OPERATORS)
    assert any("calls process 'not_deployed_anywhere', which is neither in this file nor deployed: deploy it first, "
               "or draw it in this file" in p.message for p in problems)


@pytest.mark.parametrize("text, role", [
    ("Seal administrator", RoleName.SEAL_ADMIN), ("seal_admin", RoleName.SEAL_ADMIN),
    ("Approver", RoleName.APPROVER), ("  Leader ", RoleName.LEADER), ("Clerks", None),
    ("Leaders", RoleName.LEADER), ("approvers", RoleName.APPROVER), ("Seal administrators", RoleName.SEAL_ADMIN),
    ("Seal-admins", RoleName.SEAL_ADMIN), ("Department heads", RoleName.APPROVER), ("领导", RoleName.LEADER),
    ("印章管理员", RoleName.SEAL_ADMIN), ("Applicant", None), ("System", None), ("s", None), ("", None),
])
def test_lane_and_rule_names_map_to_roles(text: str, role: RoleName | None):
    assert role_of(text) == role


def test_deciding_tasks_that_could_reach_the_requester_are_warnings_not_problems():
    data = (DATA / "requester_decides.bpmn").read_bytes()
    assert validate_definition(data, "requester_decides.bpmn", OPERATORS) == []  # it deploys
    warnings = {w.element_id: w.message for w in lint(data, "requester_decides.bpmn")}
    assert set(warnings) == {"requester_approves", "camunda_requester", "among_candidates", "employees_group",
                             "any_employee", "in_employees_lane"}  # not the requester's own step, not the head's
    assert "goes to the requester alone" in warnings["requester_approves"] == warnings["camunda_requester"]
    assert "among its candidates" in warnings["among_candidates"]
    assert "offered to every employee" in warnings["in_employees_lane"]
    shipped = Path(__file__).resolve().parents[2] / "bpmn"
    assert all(lint(path.read_bytes(), path.name) == [] for path in shipped.glob("*.bpmn"))
    assert lint(b"not xml", "broken.bpmn") == []  # validation says why
