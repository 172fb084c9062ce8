"""The evaluator process: its limits are the kernel's, its failures are the expression's alone, and a process of
SealFlow that used one goes on with a fresh one."""

import os
import threading
from pathlib import Path

import pytest

from app.workflow import evaluator
from app.workflow.expressions import ExpressionTooCostly


@pytest.fixture
def limits():
    before = evaluator.limits()
    yield evaluator.configure
    evaluator.configure(before.cpu_seconds, before.memory_mb)


def _limit_of(process: evaluator._Process, name: str) -> str:
    line = next(line for line in Path(f"/proc/{process.popen.pid}/limits").read_text().splitlines()
                if line.startswith(name))
    return line.split()[len(name.split()):][0]


def test_the_kernel_holds_the_evaluator_to_its_memory_limit(limits):
    limits(1.0, 48)
    assert evaluator.evaluate_isolated("a + 1", {"a": 1}) == 2
    process = evaluator._process()
    address_space = int(_limit_of(process, "Max address space"))
    with open(f"/proc/{process.popen.pid}/statm") as statm:
        in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    assert 0 < address_space - in_use <= 48 * 1024 * 1024
    assert _limit_of(process, "Max core file size") == "0"


def test_the_limits_are_settings(limits):
    limits(0.3, 32)
    with pytest.raises(ExpressionTooCostly, match=r"more than 0\.3 s of CPU time"):
        evaluator.evaluate_isolated("round(1, -n)", {"n": 10**9})
    with pytest.raises(ExpressionTooCostly, match="more memory"):
        evaluator.evaluate_isolated("len(('%0' + str(n) + 'd') % 0)", {"n": 40_000_000})
    with pytest.raises(ValueError):
        limits(0, 64)


def test_an_evaluator_past_its_memory_limit_is_replaced(limits):
    evaluator.evaluate_isolated("1 + 1", {})
    first = evaluator._process()
    with pytest.raises(ExpressionTooCostly, match="more memory"):
        evaluator.evaluate_isolated("('%0' + w + 'd') % 0", {"w": "999999999"})
    assert evaluator.evaluate_isolated("x + 1", {"x": 41}) == 42
    assert evaluator._process() is not first and first.popen.poll() is not None


def test_each_thread_has_its_own_evaluator_and_errors_come_back_as_themselves():
    pids: list[int] = []

    def work() -> None:
        evaluator.evaluate_isolated("1 + 1", {})
        pids.append(evaluator._process().popen.pid)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 3
    with pytest.raises(NameError, match="'y' is not defined"):
        evaluator.evaluate_isolated("y + 1", {})
    with pytest.raises(ZeroDivisionError):
        evaluator.evaluate_isolated("1 // x", {"x": 0})


def test_only_plain_data_crosses_to_the_evaluator():
    assert evaluator.evaluate_isolated("len(a) + 1", {"a": [1, 2], "f": open}) == 3
    with pytest.raises(NameError):
        evaluator.evaluate_isolated("len(f) + 1", {"f": open})
