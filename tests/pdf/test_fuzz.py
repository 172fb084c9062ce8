"""A seeded fuzz round in the suite: mutants of the corpus (tests/pdf/mutants.py) through inspection, the keyword
search, stamping, signing and verification (tests/pdf/fuzzing.py), each in a worker with a time and memory bound.

Every mutant must be refused with an app.pdf or app.pki error whose message holds no repr, or come out as PDFs
`qpdf --check` accepts, signed and verifying. `python bench/pdf_fuzz.py --count 1000` runs a larger round.
"""

from pathlib import Path

from tests.pdf.fuzzing import run_round
from tests.pdf.mutants import CATEGORIES, mutants

SEED = 2026
COUNT = 240  # about 30 s with two workers


def test_every_mutant_is_refused_clearly_or_sealed_into_a_sound_pdf(tmp_path: Path):
    found = run_round(mutants(SEED, COUNT), tmp_path, timeout=30.0)
    print(found.summary())  # pytest -s shows the counts: valid, refused, by category
    assert not found.failures, "\n\n".join(found.failures)
    assert set(found.by_category) == set(CATEGORIES)
    refused = sum(count for outcome, count in found.outcomes.items() if "refused" in outcome)
    assert found.outcomes["valid"] >= COUNT // 5 and refused >= COUNT // 5, found.summary()
