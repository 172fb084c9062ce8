"""The restricted expression environment: a diagram can never run code on the server.

Expressions (gateway conditions, service parameters) are checked against a whitelist of syntax
before they run, and run with no builtins beyond a few vetted functions. Scripts are refused.
"""

from __future__ import annotations

import ast
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)

VETTED_FUNCTIONS: dict[str, Any] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round,
    "int": int, "float": float, "str": str, "bool": bool, "sum": sum, "any": any, "all": all,
}

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.IfExp, ast.Call,
)


class UnsafeExpression(ValueError):
    """The expression uses syntax outside the whitelist."""


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


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates vetted expressions against task data only; refuses scripts."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = compile(check_expression(expression), "<expression>", "eval")
        names = {**(external_context or {}), **context}
        return eval(code, {"__builtins__": {}, **VETTED_FUNCTIONS}, names)  # noqa: S307 - vetted above

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        raise UnsafeExpression("scripts are not allowed in SealFlow diagrams")


def restricted_engine() -> PythonScriptEngine:
    """A SpiffWorkflow script engine bound to the restricted environment."""
    return PythonScriptEngine(environment=RestrictedEnvironment())
