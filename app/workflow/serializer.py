"""SpiffWorkflow (de)serialization; instance state is stored without the spec it runs on."""

from __future__ import annotations

from functools import cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import SequentialMultiInstanceTask

from app.workflow.scripting import restricted_engine
from app.workflow.specs import AsyncServiceTask, SequentialEach


@cache
def _serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[AsyncServiceTask] = ServiceTaskConverter
    config[SequentialEach] = config[SequentialMultiInstanceTask]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def spec_to_dict(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The parsed process and its called subprocesses, as JSON-ready data."""
    serializer = _serializer()
    return {
        "spec": serializer.to_dict(spec),
        "subprocess_specs": {name: serializer.to_dict(s) for name, s in subprocess_specs.items()},
    }


def new_workflow(spec_dict: dict[str, Any]) -> BpmnWorkflow:
    """A fresh workflow for a stored spec."""
    serializer = _serializer()
    spec = serializer.from_dict(spec_dict["spec"])
    subprocesses = {name: serializer.from_dict(s) for name, s in spec_dict["subprocess_specs"].items()}
    return BpmnWorkflow(spec, subprocesses, script_engine=restricted_engine())


def dump_state(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The workflow's state without its spec (the definition row holds that once)."""
    state = _serializer().to_dict(workflow)
    state.pop("spec")
    state.pop("subprocess_specs")
    state["serializer_version"] = _serializer().VERSION
    return dict(state)


def load_state(spec_dict: dict[str, Any], state: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from its stored spec and state."""
    full = {k: v for k, v in state.items() if k != "serializer_version"}
    full["spec"] = spec_dict["spec"]
    full["subprocess_specs"] = spec_dict["subprocess_specs"]
    workflow = _serializer().from_dict(full)
    workflow.script_engine = restricted_engine()
    return workflow
