"""The restricted expression environment: a diagram can never run code on the server.

Expressions (gateway conditions, service parameters) are checked against a whitelist of syntax
before they run, and run with no builtins beyond a few vetted functions. Scripts are refused.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from types import CodeType
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)


def _str(value: Any) -> str:
    """str() of one value: a collection's text could be far larger than the collection (`str([s] * n)`)."""
    if value is not None and not isinstance(value, str | int | float | bool):
        raise UnsafeExpression("str() takes one value (a text or a number), not a collection")
    return str(value)


def _sum(values: Any) -> Any:
    """sum() of numbers only: summing lists or texts would concatenate them into something huge."""
    items = list(values)
    if not all(isinstance(v, int | float) for v in items):
        raise UnsafeExpression("sum() adds numbers only")
    return sum(items)


VETTED_FUNCTIONS: dict[str, Any] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round,
    "int": int, "float": float, "str": _str, "bool": bool, "sum": _sum, "any": any, "all": all,
}

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.IfExp, ast.Call,
)


class UnsafeExpression(ValueError):
    """The expression uses syntax outside the whitelist, or would build a value too large to hold."""


MAX_SEQUENCE = 100_000  # items (or characters) a `*` may build; `'a' * 10**9` must not exhaust memory
MAX_INT_BITS = 4096  # no number in a seal approval needs more; repeated `*` must not grow one without end


def _bounded_mul(left: Any, right: Any) -> Any:
    """`left * right`, refused when it would build a huge string, list or number."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int):
            if len(sequence) * count > MAX_SEQUENCE:
                raise UnsafeExpression(f"the expression would build a sequence of more than {MAX_SEQUENCE} items")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise UnsafeExpression(f"the expression would build a number of more than {MAX_INT_BITS} bits")
    return left * right


class _BoundMultiplication(ast.NodeTransformer):
    """Rewrites `a * b` as a call of the bounded multiplication (a name user expressions cannot reach:
    names starting with '_' are refused)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.op, ast.Mult):
            return node
        call = ast.Call(func=ast.Name(id="_bounded_mul", ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)


def check_expression(expression: str) -> ast.Expression:
    """Parse and vet an expression; raises UnsafeExpression (or SyntaxError) with the reason."""
    tree = ast.parse(expression.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in an expression: {expression!r}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise UnsafeExpression(f"names starting with '_' are not allowed: {node.id!r}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in VETTED_FUNCTIONS
        ):
            raise UnsafeExpression(f"only these functions may be called: {', '.join(sorted(VETTED_FUNCTIONS))}")
    return tree


@lru_cache(maxsize=4096)
def _compiled(expression: str) -> CodeType:
    """A vetted expression, compiled with its multiplications bounded (once per distinct expression)."""
    tree = ast.fix_missing_locations(_BoundMultiplication().visit(check_expression(expression)))
    return compile(tree, "<expression>", "eval")


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates vetted expressions against task data only; refuses scripts."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = _compiled(expression)
        # The vetted functions come last, so that process data cannot shadow them.
        names = {**(external_context or {}), **context, **VETTED_FUNCTIONS, "_bounded_mul": _bounded_mul}
        return eval(code, {"__builtins__": {}}, names)  # noqa: S307 - vetted above

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        raise UnsafeExpression("scripts are not allowed in SealFlow diagrams")


class ServiceCallFailed(RuntimeError):
    """A service call from a task failed; carries the original error."""


class SealFlowScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's engine with `call_service` mended: in 3.2.0 its `except` names an undefined `script`,
    so every service error surfaced as a NameError that hid the real one."""

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as exc:
            raise ServiceCallFailed(f"the service call of task {task.task_spec.bpmn_id!r} failed: "
                                    f"{exc.__class__.__name__}: {exc}") from exc


def restricted_engine() -> PythonScriptEngine:
    """A SpiffWorkflow script engine bound to the restricted environment."""
    return SealFlowScriptEngine(environment=RestrictedEnvironment())
