"""Diagram and decision-table expressions: vetted, compiled, and evaluated within bounds.

Only the standard library is imported here: this file is also the program of the evaluator process
(app/workflow/evaluator.py starts it as `python -I -S expressions.py serve CPU_SECONDS MEMORY_MB`), where every
expression that could cost more than its size runs under CPU-time and memory limits the kernel enforces.

An expression is vetted against a whitelist of syntax (no attributes, no names starting with '_', calls of a few
vetted functions only) and bounded in length and nesting, so that parsing and compiling it is cheap. What is left
is split in two:

* *plain* expressions (names, constants, subscripts, comparisons, `and`/`or`/`not`, `x if c else y`, and
  displays of those) cost at most their length times the size of the data they read, and run in process;
* everything else (calls, arithmetic) may cost anything (`'%0999999999d' % 0`, `round(1, -10**9)`, comparing
  two lists of 10**5 references to one list of 10**5 items) and runs in the evaluator process.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import io
import math
import os
import pickle
import resource
import select
import signal
import struct
import sys
import time
from functools import lru_cache
from types import CodeType
from typing import Any

MAX_LENGTH = 10_000  # characters of one expression
MAX_DEPTH = 64  # nesting of its syntax tree; Python's own parser and compiler recurse on it
MAX_NODES = 2_000  # nodes of its syntax tree
MAX_SEQUENCE = 100_000  # items (or characters) a `*` may build; `'a' * 10**9` must not even start
MAX_INT_BITS = 4096  # no number in a seal approval needs more; repeated `*` must not grow one without end
MAX_RESULT_ITEMS = 100_000  # items (counted through every reference) in a value an expression gives back
MAX_RESULT_CHARS = 1_000_000  # characters of text in such a value


class UnsafeExpression(ValueError):
    """The expression uses syntax outside the whitelist, is too long or too deeply nested, or would build a value
    too large to hold."""


class ExpressionTooCostly(RuntimeError):
    """Evaluating the expression went past the CPU-time or memory limit, or gave back a value too large to keep."""


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
# What a plain expression is made of: nothing here builds a value larger than the expression and its data.
_PLAIN_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.IfExp,
)


def _nesting(tree: ast.AST) -> tuple[int, int]:
    """The depth and node count of a syntax tree, walked without recursion."""
    depth, count, stack = 0, 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        depth, count = max(depth, level), count + 1
        stack += [(child, level + 1) for child in ast.iter_child_nodes(node)]
    return depth, count


def check_expression(expression: str) -> ast.Expression:
    """Parse and vet an expression; raises UnsafeExpression (or SyntaxError) with the reason."""
    text = expression.strip()
    if len(text) > MAX_LENGTH:
        raise UnsafeExpression(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (RecursionError, MemoryError) as exc:
        raise UnsafeExpression(f"the expression is nested more than {MAX_DEPTH} levels deep") from exc
    except ValueError as exc:  # a NUL character
        raise SyntaxError(str(exc)) from exc
    depth, count = _nesting(tree)
    if depth > MAX_DEPTH:
        raise UnsafeExpression(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if count > MAX_NODES:
        raise UnsafeExpression(f"the expression has more than {MAX_NODES} parts")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in an expression: {_quoted(text)}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise UnsafeExpression(f"names starting with '_' are not allowed: {node.id!r}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in VETTED_FUNCTIONS
        ):
            raise UnsafeExpression(f"only these functions may be called: {', '.join(sorted(VETTED_FUNCTIONS))}")
    return tree


def _quoted(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


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
    """Rewrites `a * b` as a call of the bounded multiplication (a name user expressions cannot reach: names
    starting with '_' are refused). Refusing early with a clear reason; the evaluator's limits are the bound."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.op, ast.Mult):
            return node
        call = ast.Call(func=ast.Name(id="_bounded_mul", ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)


@lru_cache(maxsize=4096)
def compiled(expression: str) -> tuple[CodeType, bool]:
    """A vetted expression compiled (its multiplications bounded), and whether it is plain (see the module's
    docstring): once per distinct expression."""
    tree = check_expression(expression)
    plain = all(isinstance(node, _PLAIN_NODES) for node in ast.walk(tree))
    tree = ast.fix_missing_locations(_BoundMultiplication().visit(tree))
    return compile(tree, "<expression>", "eval"), plain


_NAMES = {**VETTED_FUNCTIONS, "_bounded_mul": _bounded_mul}


def evaluate_here(code: CodeType, names: dict[str, Any]) -> Any:
    """Run compiled code in this process, with no builtins; the vetted functions come last, so that process data
    cannot shadow them."""
    return eval(code, {"__builtins__": {}}, {**names, **_NAMES})  # noqa: S307 - vetted by check_expression


def check_result(value: Any) -> None:
    """Refuse a value too large to keep in a process's data, counting every reference (a list holding one list
    10**5 times counts 10**5 times its items): such a value would explode when the process's state is saved."""
    items, chars, stack = 0, 0, [value]
    while stack:
        item = stack.pop()
        items += 1
        if items > MAX_RESULT_ITEMS:
            raise ExpressionTooCostly(f"the expression's value has more than {MAX_RESULT_ITEMS} items")
        if isinstance(item, str | bytes):
            chars += len(item)
            if chars > MAX_RESULT_CHARS:
                raise ExpressionTooCostly(f"the expression's value holds more than {MAX_RESULT_CHARS} characters")
        elif isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            stack += item


# Values cross between the processes as pickles of plain data; these are the only classes either side loads.
_LOADABLE = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
             ("datetime", "timezone"), ("decimal", "Decimal"), ("builtins", "set"), ("builtins", "frozenset"),
             ("builtins", "complex"), ("builtins", "slice")}
_PLAIN_TYPES = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset,
                datetime.datetime, datetime.date, datetime.time, datetime.timedelta, datetime.timezone,
                decimal.Decimal)


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _LOADABLE:
            raise pickle.UnpicklingError(f"{module}.{name} is not plain data")
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


def plain_data(names: dict[str, Any]) -> dict[str, Any]:
    """The names whose values are plain data (what the evaluator process can be given); task data holds only
    such values, and anything else could not be used by a vetted expression anyway."""
    return {key: value for key, value in names.items() if isinstance(value, _PLAIN_TYPES)}


MAX_FRAME = 64 * 1024 * 1024  # bytes of one message between the processes


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(struct.pack(">I", len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int, deadline: float | None = None) -> bytes | None:
    """One message, or None at the end of the stream; TimeoutError past the deadline (a time.monotonic())."""
    header = _read_exactly(fd, 4, deadline)
    if header is None:
        return None
    (size,) = struct.unpack(">I", header)
    if size > MAX_FRAME:
        raise ExpressionTooCostly("the message between SealFlow and its expression evaluator is too large")
    return _read_exactly(fd, size, deadline)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, missing = [], size
    while missing:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


# Errors an expression may raise, passed back by name and raised again as themselves (SpiffWorkflow's messages
# name them, as in "NameError: name 'x' is not defined").
_PASSED_ERRORS = {cls.__name__: cls for cls in (NameError, TypeError, ValueError, ZeroDivisionError, KeyError,
                                                 IndexError, OverflowError, ArithmeticError, UnsafeExpression)}


def error_from(name: str, message: str) -> Exception:
    return _PASSED_ERRORS.get(name, RuntimeError)(message)


class _OverCpu(BaseException):
    """Raised by the CPU-time alarm inside the evaluator process (not an Exception, so nothing catches it)."""


def _on_cpu_alarm(signum: int, frame: Any) -> None:
    raise _OverCpu


def _virtual_memory() -> int:
    """The evaluator's address space now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _answer_one(request: bytes, cpu_seconds: float) -> tuple[bytes, bool]:
    """Evaluate one request: the answer ("ok", value), ("error", exception name, message) or ("limit", reason,
    whether this process must end: memory ran out), and whether it must end."""
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    # The alarm stops Python code at its CPU limit; the kernel's limit (whole seconds, so up to one more) stops
    # work in C that never returns to Python: the process dies of SIGXCPU, and the parent reports it.
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + cpu_seconds), resource.RLIM_INFINITY))
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        expression, names = loads(request)
        code, _ = compiled(expression)
        value = evaluate_here(code, names)
        check_result(value)
        answer: tuple[Any, ...] = ("ok", value)
    except _OverCpu:
        answer = ("limit", f"it used more than {cpu_seconds:g} s of CPU time", False)
    except MemoryError:
        answer = ("limit", "it needed more memory than the limit allows", True)
    except RecursionError:
        answer = ("limit", "it is nested too deeply", False)
    except ExpressionTooCostly as exc:
        answer = ("limit", str(exc), False)
    except Exception as exc:
        answer = ("error", type(exc).__name__, str(exc))
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL), answer[0] == "limit" and answer[2]
    except MemoryError:
        return pickle.dumps(("limit", "it needed more memory than the limit allows", True)), True


def serve(cpu_seconds: float, memory_mb: int) -> None:
    """The evaluator process: answer requests on stdin until it closes, within the limits."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGPROF, _on_cpu_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the parent, which then closes the pipe
    limit = _virtual_memory() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    while (request := read_frame(stdin)) is not None:
        answer, end = _answer_one(request, cpu_seconds)
        write_frame(stdout, answer)
        if end:
            return


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(float(sys.argv[2]), int(sys.argv[3]))
