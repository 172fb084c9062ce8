"""The workflow engine: the only package that imports SpiffWorkflow."""

from app.workflow.engine import (
    StepResult,
    complete_task,
    deploy,
    fail_instance,
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
    "complete_task",
    "deploy",
    "fail_instance",
    "inbox_query",
    "latest_definition",
    "resume_service",
    "service_job_key",
    "start",
    "tasks_of",
    "validate",
]
