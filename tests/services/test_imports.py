"""Service modules in the deployments → flows → operators → deployments cycle import on their own, in any order (a
script importing one of them first used to fail half-way through the cycle)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST = ("app.services.approvals", "app.services.deployments", "app.services.operators")


def test_each_module_of_the_cycle_imports_first_in_a_fresh_interpreter():
    running = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT, stderr=subprocess.PIPE,
                                      text=True) for name in FIRST}
    failed = {name: process.communicate(timeout=120)[1].strip().splitlines()[-1:]
              for name, process in running.items() if process.wait(timeout=120) != 0}
    assert failed == {}
