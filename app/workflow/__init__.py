"""The workflow engine: the only package that imports SpiffWorkflow."""

from app.workflow.assignment import (
    POLICY_LEVEL,
    POLICY_LEVELS,
    POLICY_RULE,
    Assignment,
    approver_problem,
    department_approver,
    qualifies,
)
from app.workflow.decisions import check_decision, evaluate_decision, files_digest
from app.workflow.engine import (
    SERVICE_FAILED,
    cancel,
    complete_task,
    deploy,
    fail_instance,
    fail_service,
    fire_timer,
    history,
    inspect,
    is_deployed,
    latest_definition,
    lint,
    operations_of,
    resume_service,
    start,
    tasks_of,
    validate,
)
from app.workflow.errors import InvalidDefinition, Problem, WorkflowFailed
from app.workflow.modeler_form import for_modeler
from app.workflow.parser import ParsedDefinition
from app.workflow.policies import TableRule, TableView, called_decisions, literal_outputs, table_problems, table_view
from app.workflow.simulation import TIMEOUT, PathStep, ServiceAnswer, TimerWait, simulate_path
from app.workflow.steps import StepResult, service_job_key
from app.workflow.timers import due as due_timers

__all__ = [
    "POLICY_LEVEL",
    "Assignment",
    "PathStep",
    "ServiceAnswer",
    "TIMEOUT",
    "TimerWait",
    "simulate_path",
    "POLICY_LEVELS",
    "POLICY_RULE",
    "approver_problem",
    "check_decision",
    "department_approver",
    "evaluate_decision",
    "files_digest",
    "qualifies",
    "SERVICE_FAILED",
    "InvalidDefinition",
    "ParsedDefinition",
    "Problem",
    "StepResult",
    "TableRule",
    "TableView",
    "WorkflowFailed",
    "called_decisions",
    "cancel",
    "complete_task",
    "deploy",
    "due_timers",
    "fail_instance",
    "fail_service",
    "fire_timer",
    "for_modeler",
    "history",
    "inspect",
    "is_deployed",
    "latest_definition",
    "lint",
    "literal_outputs",
    "operations_of",
    "resume_service",
    "service_job_key",
    "start",
    "table_problems",
    "table_view",
    "tasks_of",
    "validate",
]
