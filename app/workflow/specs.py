"""SealFlow's own task specs for SpiffWorkflow."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask, ServiceTask

SERVICE_REQUEST = "sealflow_service_request"


class AsyncServiceTask(ServiceTask):
    """A service task that only records its request and waits: a background job does the work.

    Returning None leaves the task STARTED; the engine completes it when the job reports back.
    """

    def _execute(self, task: Any) -> None:
        engine = task.workflow.script_engine
        params = {name: engine.evaluate(task, p["value"]) for name, p in self.operation_params.items()}
        task.internal_data[SERVICE_REQUEST] = {"operation": self.operation_name, "params": params}
        return None


class SequentialEach(SequentialMultiInstanceTask):
    """A sequential multi-instance that can run more than once without an output collection, and be entered again
    (the policy step after a resubmission).

    Without one, SpiffWorkflow merges each finished instance's data (input item included) back into the loop's
    data and then refuses to start the next instance because its input item "already exists". The merged-back
    item is the previous instance's, so it is dropped before the next one starts, and dropped from the loop's data
    when the loop completes (it belongs to the instances, and entering the loop again would trip on it); the first
    check still guards a process variable of that name.
    """

    def _on_complete_hook(self, my_task: Any) -> None:
        if self.data_output is None and self.input_item is not None:
            my_task.data.pop(self.input_item.bpmn_id, None)
        super()._on_complete_hook(my_task)

    def create_child(self, my_task: Any, item: Any, key_or_index: Any = None) -> None:
        if self.data_output is None and self.input_item is not None and self._merged_children(my_task):
            my_task.data.pop(self.input_item.bpmn_id, None)
        super().create_child(my_task, item, key_or_index)


class ParallelEach(ParallelMultiInstanceTask):
    """A parallel multi-instance that can be entered again without an output collection (a countersign after a
    resubmission): as with SequentialEach, the item merged back from the instances is dropped when the loop
    completes, so that entering it again does not trip on it."""

    def _on_complete_hook(self, my_task: Any) -> None:
        if self.data_output is None and self.input_item is not None:
            my_task.data.pop(self.input_item.bpmn_id, None)
        super()._on_complete_hook(my_task)
