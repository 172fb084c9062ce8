"""A CA and its time-stamp authority for each key algorithm, shared by the TSA and verification tests
(modules that need a different CA define their own `ca`)."""

import pytest

from app.pdf.pki import create_root_ca, issue_tsa_certificate
from app.pdf.tsa import TimeStampAuthority


@pytest.fixture(scope="module", params=["rsa2048", "ec-p256"])
def algorithm(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def ca(algorithm):
    return create_root_ca("Test Org", algorithm)


@pytest.fixture(scope="module")
def authority(ca, algorithm) -> TimeStampAuthority:
    return TimeStampAuthority(issue_tsa_certificate(ca, "Test Org", algorithm), (ca.certificate,))
