import re

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from app.workflow.scripting import (
    ExpressionTooCostly,
    RestrictedEnvironment,
    SealFlowScriptEngine,
    ServiceCallFailed,
    UnsafeExpression,
    check_expression,
    vet,
)


@pytest.mark.parametrize("expression", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "open('/etc/passwd').read()",
    "decision.upper()",
    "[c for c in ().__class__.__mro__]",
    "lambda: 1",
    "_secret",
])
def test_escapes_are_refused(expression: str):
    with pytest.raises(UnsafeExpression):
        check_expression(expression)


def test_plain_conditions_evaluate_against_task_data_only():
    env = RestrictedEnvironment()
    assert env.evaluate('decision == "approve" and amount > 1000', {"decision": "approve", "amount": 5000})
    assert env.evaluate("len(parties) + max(1, 2)", {"parties": [1, 2]}) == 4
    with pytest.raises(NameError):
        env.evaluate("os", {})


def test_scripts_are_refused():
    with pytest.raises(UnsafeExpression):
        RestrictedEnvironment().execute("x = 1", {})


@pytest.mark.parametrize("expression, data", [
    ("'a' * 1000000000", {}),
    ("parties * 100000", {"parties": [1, 2]}),
    ("1000000000 * name", {"name": "x"}),
    ("n * n * n * n * n * n * n * n * n * n", {"n": 10 ** 500}),
])
def test_multiplication_cannot_exhaust_memory(expression: str, data: dict):
    with pytest.raises(UnsafeExpression, match="would build"):
        RestrictedEnvironment().evaluate(expression, data)


@pytest.mark.parametrize("expression, message", [
    ("str([('a' * 100000)] * 100000)", "str() takes one value"),
    ("sum([[0] * 100000] * 100000)", "sum() adds numbers only"),
    ("sum([[0] * 100000] * 100000, [])", "takes 1 positional argument"),
])
def test_functions_cannot_blow_a_small_value_up(expression: str, message: str):
    with pytest.raises((UnsafeExpression, TypeError), match=re.escape(message)):
        RestrictedEnvironment().evaluate(expression, {})


def test_process_data_cannot_shadow_the_vetted_functions():
    assert RestrictedEnvironment().evaluate("len(x) + sum([1, 2])", {"x": "abc", "len": 0, "sum": "no"}) == 6
    assert RestrictedEnvironment().evaluate("str(amount) == '5'", {"amount": 5, "_bounded_mul": None})


def test_ordinary_multiplication_still_works():
    env = RestrictedEnvironment()
    assert env.evaluate("amount * 2 > 10000 and '-' * 3 == '---'", {"amount": 6000})
    assert env.evaluate("[0] * 3", {}) == [0, 0, 0]
    with pytest.raises(UnsafeExpression):
        check_expression("_bounded_mul(1, 2)")  # the helper is out of reach of diagrams


def test_a_failing_service_call_reports_its_own_error_not_a_name_error():
    """SpiffWorkflow 3.2.0's call_service names an undefined variable in its except clause."""
    class Environment(RestrictedEnvironment):
        def call_service(self, context, **kwargs):
            raise ConnectionError("the notification service is down")

    class Spec:
        bpmn_id = "notify"

    class Task:
        data: dict = {}
        task_spec = Spec()

    engine = SealFlowScriptEngine(environment=Environment())
    with pytest.raises(ServiceCallFailed, match="ConnectionError: the notification service is down"):
        engine.call_service(Task(), operation_name="notify")
    with pytest.raises(NameError):  # what SpiffWorkflow itself does, so the workaround is still needed
        PythonScriptEngine(environment=Environment()).call_service(Task(), operation_name="notify")


@pytest.mark.parametrize("expression", [
    "-" * 5000 + "1",  # Python's parser: RecursionError
    "-" * 100_000 + "1",  # Python's parser: MemoryError
    "(" * 5000 + "1" + ")" * 5000,
    " + ".join(["1"] * 2000),  # Python's compiler: RecursionError
    "not " * 5000 + "x",
    "x + " * 3000 + "x",
])
def test_deep_or_long_expressions_are_refused_without_a_traceback(expression: str):
    with pytest.raises((UnsafeExpression, SyntaxError), match="nested|parentheses|longer than"):
        check_expression(expression)


@pytest.mark.parametrize("expression, reason", [
    ("'%0999999999d' % 0", "more memory than the limit allows"),
    ("round(1, -1000000000)", "more than 1 s of CPU time"),
    ("[[0] * 100000] * 100000 == [[0] * 100000] * 100000", "more than 1 s of CPU time"),
    ("max([[0] * 100000] * 100000)", "more than 1 s of CPU time"),
    ("len([0] * 1000000000)", "a sequence of more than 100000 items"),
    ("[[[0] * 100000] * 100000] * 10", "value has more than 100000 items"),
])
def test_costly_expressions_are_stopped_by_the_evaluator(expression: str, reason: str):
    env = RestrictedEnvironment()
    with pytest.raises((ExpressionTooCostly, UnsafeExpression), match=re.escape(reason)):
        env.evaluate(expression, {})
    assert env.evaluate("len(x) * 2", {"x": "abc"}) == 6  # and the next expression is served


def test_a_deployed_expression_that_reads_no_data_is_evaluated_under_the_limits():
    with pytest.raises(UnsafeExpression, match="more memory than the limit allows"):
        vet("'%0999999999d' % 0 == ''")
    with pytest.raises(UnsafeExpression, match="evaluating it fails: ZeroDivisionError"):
        vet("1 // 0 == 0")
    vet("amount * 1000000 > 5")  # reads data: judged when it runs
