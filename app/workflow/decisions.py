"""Evaluating a decision table on its own, outside any process: the seal policy is asked at filing time which
approvals an application needs, whatever process will run it.

The table runs exactly as a business-rule task would run it (same parser, same vetting of every cell, same
restricted expression environment): a one-task process is built around it, parsed once per content, and run in
memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from app.workflow.errors import WorkflowFailed
from app.workflow.parser import parse_definition
from app.workflow.serializer import ProcessSpecs, new_workflow, specs_from_dict

_RUNNER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="evaluate" targetNamespace="sealflow">
  <bpmn:process id="evaluate_decision" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to_decision</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="decision">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>to_decision</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_decision" sourceRef="start" targetRef="decision" />
    <bpmn:sequenceFlow id="to_end" sourceRef="decision" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

# Parsed runners by (decision, content of the policy files): a changed table parses anew.
_runners: dict[tuple[str, str], ProcessSpecs] = {}
_RUNNERS_KEPT = 32


def files_digest(files: Mapping[str, bytes]) -> str:
    """The fingerprint of a set of policy files (name -> content): what an application was judged by."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def _runner(decision_id: str, files: Mapping[str, bytes]) -> ProcessSpecs:
    key = (decision_id, files_digest(files))
    if key not in _runners:
        # quoteattr gives "…" around an escaped value; the element text needs only the escaping.
        xml = _RUNNER.format(decision=quoteattr(decision_id)[1:-1])
        parsed = parse_definition(xml.encode(), f"{decision_id} (policy)", (), files)
        if len(_runners) >= _RUNNERS_KEPT:
            _runners.clear()
        _runners[key] = specs_from_dict(parsed.spec)
    return _runners[key]


def check_decision(decision_id: str, files: Mapping[str, bytes]) -> None:
    """Refuse a decision table before any input meets it: InvalidDefinition names every problem (an unreadable
    file, an unsafe cell, the decision missing), as a business-rule task calling it would be refused."""
    _runner(decision_id, files)


def evaluate_decision(decision_id: str, files: Mapping[str, bytes], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of one decision table (in the DMN files given, name -> content) for the given inputs: for a
    COLLECT table, each output is the list of the matching rows' values, in row order.

    :raises InvalidDefinition: the table is refused (an unsafe cell, an unknown decision), naming file and row.
    :raises WorkflowFailed: evaluating it failed on these inputs.
    """
    workflow = new_workflow(_runner(decision_id, files))
    workflow.data.update(inputs)
    workflow.get_next_task(state=TaskState.READY).data.update(inputs)
    try:
        workflow.do_engine_steps()
    except SpiffWorkflowException as exc:
        raise WorkflowFailed(f"the policy {decision_id!r} could not be evaluated: {exc}") from exc
    return {key: value for key, value in workflow.data.items() if key not in inputs}
