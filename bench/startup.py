"""How long a web worker takes to start: `import wsgi` (create_app included, as gunicorn does) against "the floor".

Run by hand: `.venv/bin/python bench/startup.py [--rounds 9] [--database URL]`.

The floor is bench/startup_floor.py: a minimal Flask + Flask-SQLAlchemy + Flask-Babel + Flask-Login + Flask-WTF
app with one model, one form and one blueprint, built the same way (`app = create_app()` at import). Each round
imports each side once in a fresh interpreter, the two taking turns, and times the import inside the process
(the interpreter's own start, the same for both, is left out). Both get the same DATABASE_URL (default: SQLite)
and a throwaway instance folder; one untimed round first fills the bytecode caches (written whatever
PYTHONDONTWRITEBYTECODE says: a deployed app has them, as the installed packages do) and the instance secrets.
It prints the medians, the packages SealFlow imports that the floor does not, and ends with
`import_wsgi_ratio=<SealFlow median / floor median>`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Run in the child, from the checkout's root: time the import, then report the seconds and the modules it loaded.
# The floor is imported from its file (bench/ on sys.path would shadow the standard library: bench/http.py).
PROBE = """
import importlib.util, json, sys, time
started = time.perf_counter()
{import_it}
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "modules": sorted(sys.modules)}}))
"""
FLOOR = BENCH / "startup_floor.py"
SIDES = {
    "SealFlow (import wsgi)": "import wsgi",
    "floor (bench/startup_floor.py)": (
        f"spec = importlib.util.spec_from_file_location('startup_floor', {str(FLOOR)!r}); "
        "module = sys.modules['startup_floor'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)"
    ),
}


def import_once(import_it: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Run the import statement in a fresh interpreter; its time and the modules the interpreter then holds."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(import_it=import_it)], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return float(answer["seconds"]), list(answer["modules"])


def extra_packages(ours: list[str], floor: list[str]) -> list[tuple[str, int]]:
    """Top-level packages of the modules SealFlow holds and the floor does not, with their module counts."""
    return Counter(name.split(".")[0] for name in set(ours) - set(floor)).most_common()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds, each importing both sides once")
    parser.add_argument("--database", default="", help="DATABASE_URL for both sides (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealflow-startup-") as tmp:
        env = {**os.environ, "SEALFLOW_INSTANCE_PATH": tmp, "DATABASE_URL": args.database,
               "PYTHONPATH": str(ROOT)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed app has its bytecode cached, as site-packages has
        seconds: dict[str, list[float]] = {side: [] for side in SIDES}
        modules: dict[str, list[str]] = {}
        for side, import_it in SIDES.items():  # warm-up: bytecode caches, instance secrets
            modules[side] = import_once(import_it, env)[1]
        for round_ in range(args.rounds):
            order = list(SIDES.items()) if round_ % 2 == 0 else list(reversed(SIDES.items()))
            for side, import_it in order:
                seconds[side].append(import_once(import_it, env)[0])
    print(f"{args.rounds} rounds, each side in a fresh interpreter per round, taking turns; "
          f"database: {args.database or 'SQLite'}")
    print(f"{'side':<32} {'median s':>9} {'min s':>7} {'max s':>7} {'modules':>8}")
    for side, values in seconds.items():
        print(f"{side:<32} {statistics.median(values):>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
              f"{len(modules[side]):>8}")
    ours, floor = list(SIDES)
    extra = extra_packages(modules[ours], modules[floor])
    print("imported by SealFlow, not by the floor (package: modules): "
          + ", ".join(f"{name}: {count}" for name, count in extra))
    heavy = [name for name in ("pikepdf", "pyhanko", "reportlab", "SpiffWorkflow", "openpyxl", "ldap3", "aiohttp")
             if name in modules[ours]]
    print(f"PDF, signing and workflow libraries at start: {', '.join(heavy) or 'none'}")
    ratio = statistics.median(seconds[ours]) / statistics.median(seconds[floor])
    print(f"import_wsgi_ratio={ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
