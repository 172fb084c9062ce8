"""SpiffWorkflow (de)serialization; instance state is stored without the spec it runs on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask

from app.workflow.scripting import restricted_engine
from app.workflow.specs import AsyncServiceTask, ParallelEach, SequentialEach


class _StateConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's BpmnWorkflowConverter.to_dict without the specs: converting them at every step only to
    drop them was half the cost of saving."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


@cache
def _serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateConverter
    config[AsyncServiceTask] = ServiceTaskConverter
    config[SequentialEach] = config[SequentialMultiInstanceTask]
    config[ParallelEach] = config[ParallelMultiInstanceTask]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


@dataclass(frozen=True)
class ProcessSpecs:
    """A stored spec rebuilt as SpiffWorkflow task specs: the process and its called subprocesses.

    SpiffWorkflow only reads specs while it runs (tasks keep their own state), so one ProcessSpecs may be
    shared by any number of workflows, as a parser's spec is.
    """

    spec: Any
    subprocess_specs: dict[str, Any]


def spec_to_dict(spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
    """The parsed process and its called subprocesses, as JSON-ready data."""
    serializer = _serializer()
    return {
        "spec": serializer.to_dict(spec),
        "subprocess_specs": {name: serializer.to_dict(s) for name, s in subprocess_specs.items()},
    }


def specs_from_dict(spec_dict: dict[str, Any]) -> ProcessSpecs:
    """Rebuild the task specs of a stored spec (what spec_to_dict made)."""
    serializer = _serializer()
    return ProcessSpecs(serializer.from_dict(spec_dict["spec"]),
                        {name: serializer.from_dict(s) for name, s in spec_dict["subprocess_specs"].items()})


def new_workflow(specs: ProcessSpecs) -> BpmnWorkflow:
    """A fresh workflow on a process's specs."""
    return BpmnWorkflow(specs.spec, dict(specs.subprocess_specs), script_engine=restricted_engine())


def dump_state(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The workflow's state without its spec (the definition row holds that once)."""
    state = _serializer().to_dict(workflow)
    state["serializer_version"] = _serializer().VERSION
    return dict(state)


def load_state(specs: ProcessSpecs, state: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from its process's specs and its stored state."""
    full = {k: v for k, v in state.items() if k != "serializer_version"}
    # The serializer restores dicts that name a type and hands any other object back as it is: the specs
    # go in already built, and only the state is deserialized.
    full["spec"] = specs.spec
    full["subprocess_specs"] = dict(specs.subprocess_specs)
    workflow = _serializer().from_dict(full)
    workflow.script_engine = restricted_engine()
    return workflow
