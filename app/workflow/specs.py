"""SealFlow's own task specs for SpiffWorkflow."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.spiff.specs.defaults import ServiceTask

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
