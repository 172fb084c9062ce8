import pytest

from app.workflow.scripting import RestrictedEnvironment, UnsafeExpression, check_expression


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
