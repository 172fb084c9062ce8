"""A fuzz round of SealFlow's PDF engine, larger than the one in the test suite (tests/pdf/test_fuzz.py).

Run by hand: `.venv/bin/python bench/pdf_fuzz.py --count 400 --seed 1` (add `--workers 4` on a larger machine).

Seeded mutants of the corpus files (byte flips, truncations, xref damage, page-tree and form damage, bad
geometry, decompression bombs and loops of seventeen kinds) each go through inspection, the keyword search,
stamping, signing (stamped, and unstamped as `pdf sign` takes a file) and verification, in worker processes
bounded in time and memory. It prints the outcome counts overall and per category, the most frequent refusal
messages, and every failure (an exception that is no app.pdf / app.pki error, a repr in a message, an output
`qpdf --check` rejects, a hang, a worker that died); the exit status is 1 when there was any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` and `tests` live in the checkout root; bench/ leaves sys.path, or
# bench/http.py would shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from tests.pdf.fuzzing import run_round  # noqa: E402
from tests.pdf.mutants import mutants  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="mutants to run (default 400)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same mutants (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one mutant may take (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealflow-fuzz-") as workdir:
        found = run_round(mutants(args.seed, args.count), Path(workdir), args.workers, args.timeout)
    print(f"seed {args.seed}: {found.summary()}")
    for failure in found.failures:
        print(f"\nFAILURE {failure}")
    return 1 if found.failures else 0


if __name__ == "__main__":
    sys.exit(main())
