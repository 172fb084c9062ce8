"""The restricted expression environment: a diagram can never run code on the server, nor exhaust it.

Expressions (gateway conditions, decision-table cells, multi-instance counts and completion conditions, timers,
service parameters) are vetted against a whitelist of syntax before they run, and run with no builtins beyond a
few vetted functions (app/workflow/expressions.py); any that could cost more than its size runs in the evaluator
process, under CPU-time and memory limits (app/workflow/evaluator.py). Scripts are refused.
"""

from __future__ import annotations

import re
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

from app.workflow import camunda
from app.workflow.evaluator import evaluate_isolated
from app.workflow.expressions import (
    VETTED_FUNCTIONS,
    ExpressionTooCostly,
    UnsafeExpression,
    check_expression,
    compiled,
    evaluate_here,
)

__all__ = ["VETTED_FUNCTIONS", "ExpressionTooCostly", "RestrictedEnvironment", "SealFlowScriptEngine",
           "ServiceCallFailed", "UnsafeExpression", "check_expression", "restricted_engine", "vet"]

MAX_INSTANCES = 1_000  # of one multi-instance task: no approval names more people, and each is a task and a row


def vet(expression: str) -> None:
    """Check an expression of a diagram or decision table being deployed: its syntax (check_expression), and, when
    it reads no data at all and could be costly, its value, computed now under the evaluator's limits, so that
    `'%0999999999d' % 0` is refused at deploy rather than when an application reaches it.

    :raises UnsafeExpression, SyntaxError: with the reason.
    """
    code, plain = compiled(expression)  # vets it
    if plain or any(name not in VETTED_FUNCTIONS and name != "_bounded_mul" for name in code.co_names):
        return
    try:
        evaluate_isolated(expression, {})
    except (ExpressionTooCostly, UnsafeExpression) as exc:
        raise UnsafeExpression(str(exc)) from exc
    except Exception as exc:
        raise UnsafeExpression(f"evaluating it fails: {exc.__class__.__name__}: {exc}") from exc


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates vetted expressions against task data only; refuses scripts."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code, plain = compiled(expression)
        names = {**(external_context or {}), **context}
        return evaluate_here(code, names) if plain else evaluate_isolated(expression, names)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        raise UnsafeExpression("scripts are not allowed in SealFlow diagrams")


class ServiceCallFailed(RuntimeError):
    """A service call from a task failed; carries the original error."""


class SealFlowScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's engine, saying which element's expression failed and why, and bounding multi-instance
    counts; `call_service` is mended (in 3.2.0 its `except` names an undefined `script`, so every service error
    surfaced as a NameError that hid the real one)."""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
        except (ExpressionTooCostly, UnsafeExpression) as exc:
            verb = "was stopped" if isinstance(exc, ExpressionTooCostly) else "was refused"
            raise WorkflowTaskException(f"the expression {_quoted(expression)} of {_element(task)} {verb}: {exc}",
                                        task=task, exception=exc) from exc
        except NameError as exc:  # SpiffWorkflow would add the names the data has: not for the people deciding
            raise WorkflowTaskException(f"the expression {_quoted(expression)} of {_element(task)} failed: "
                                        f"{_missing(exc)}", task=task) from exc
        except Exception as exc:
            raise WorkflowTaskException(f"the expression {_quoted(expression)} of {_element(task)} failed: "
                                        f"{_failure(exc, expression, task.data)}",
                                        task=task, exception=exc) from exc
        if expression == getattr(task.task_spec, "cardinality", None) and not (
                isinstance(value, int) and 0 <= value <= MAX_INSTANCES):
            raise WorkflowTaskException(f"the multi-instance count {_quoted(expression)} of {_element(task)} gave "
                                        f"{str(value)[:40]}; it must be a whole number from 0 to {MAX_INSTANCES}",
                                        task=task)
        _check_timer(task, expression, value)
        return value

    def validate(self, expression: str) -> None:
        check_expression(expression)

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as exc:
            raise ServiceCallFailed(f"the service call of task {task.task_spec.bpmn_id!r} failed: "
                                    f"{exc.__class__.__name__}: {exc}") from exc


def _failure(exc: Exception, expression: str, data: dict[str, Any]) -> str:
    """Why evaluating an expression failed, naming the values it reads that are empty (None) first: an application
    filed without an amount makes `amount > 1000` fail."""
    error = f"{exc.__class__.__name__}: {exc}"
    try:
        names = compiled(expression)[0].co_names
    except (UnsafeExpression, SyntaxError):
        return error
    empty = [name for name in names if name in data and data[name] is None]
    if not empty:
        return error
    return f"{', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no value ({error})"


_UNDEFINED = re.compile(r"name '([^']+)' is not defined")


def _missing(exc: NameError) -> str:
    """Which value the process data lacks (a NameError raised again from the evaluator process has no name, only
    its message)."""
    found = exc.name or next(iter(_UNDEFINED.findall(str(exc))), None)
    return f"the process data has no {found!r}" if found else f"the process data lacks a value it reads ({exc})"


def _check_timer(task: Any, expression: str, value: Any) -> None:
    """A timer's expression must give what SpiffWorkflow can schedule (it would fail on anything else with an
    error of its own, not one SealFlow reports)."""
    definition = getattr(task.task_spec, "event_definition", None)
    kind = camunda.timer_kind(definition)
    if kind is None or definition is None or expression != definition.expression:
        return
    expected = camunda.timer_problem(kind, value)
    if expected is not None:
        raise WorkflowTaskException(f"the timer {_quoted(expression)} of {_element(task)} gave {str(value)[:40]!r}, "
                                    f"which is not {expected}", task=task)


def restricted_engine() -> PythonScriptEngine:
    """A SpiffWorkflow script engine bound to the restricted environment."""
    return SealFlowScriptEngine(environment=RestrictedEnvironment())


def _quoted(expression: str, limit: int = 120) -> str:
    text = " ".join(expression.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _element(task: Any) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    if not name and isinstance(getattr(spec, "task_spec", None), str):
        # A multi-instance: its name is on the task spec of its instances.
        name = getattr(task.workflow.spec.task_specs.get(spec.task_spec), "bpmn_name", None)
    return f"{spec.bpmn_id} ({name})" if name else str(spec.bpmn_id)
