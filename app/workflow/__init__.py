"""The workflow engine: the only package that imports SpiffWorkflow."""

from app.workflow.engine import (
    StepResult,
    acting_for,
    cancel,
    complete_task,
    deploy,
    due_timers,
    fail_instance,
    fire_timer,
    history,
    inbox_query,
    latest_definition,
    resume_service,
    service_job_key,
    start,
    tasks_of,
    validate,
)
from app.workflow.errors import InvalidDefinition, Problem, WorkflowFailed

__all__ = [
    "InvalidDefinition",
    "Problem",
    "StepResult",
    "WorkflowFailed",
    "acting_for",
    "cancel",
    "complete_task",
    "deploy",
    "due_timers",
    "fail_instance",
    "fire_timer",
    "history",
    "inbox_query",
    "latest_definition",
    "resume_service",
    "service_job_key",
    "start",
    "tasks_of",
    "validate",
]
