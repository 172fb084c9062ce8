"""Independent verifiers: poppler's pdfsig and MuPDF's mutool. Both exit 0 for bad signatures, so read the text."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PdfsigReport:
    valid: bool
    trusted: bool
    text: str


def nss_db_with(ca_pem: str, directory: Path) -> Path:
    """An NSS database trusting the given root."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_text(ca_pem)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", "sealflow-root", "-t", "CT,C,C",
                    "-i", str(directory / "ca.pem")], check=True)
    return directory


def pdfsig(pdf: Path, nss_dir: Path | None = None) -> PdfsigReport:
    args = ["pdfsig"] + (["-nssdir", f"sql:{nss_dir}"] if nss_dir else []) + [str(pdf)]
    text = subprocess.run(args, capture_output=True, text=True).stdout
    return PdfsigReport("Signature is Valid." in text, "Certificate is Trusted." in text, text)


def mutool_unchanged(pdf: Path) -> tuple[bool, str]:
    """Whether `mutool sign -v` says the document is unchanged since signing."""
    result = subprocess.run(["mutool", "sign", "-v", str(pdf)], capture_output=True, text=True)
    text = result.stdout + result.stderr
    return "The document is unchanged since signing." in text, text


def assert_independently_valid(pdf: bytes, ca_pem: str, workdir: Path, signatures: int = 1,
                               updated_after: bool = False) -> None:
    """pdfsig (with the root trusted in an NSS database) and mutool both accept every signature.

    `updated_after`: validation data (B-LT) was appended after signing; mutool calls that "edits since
    signing" while still finding the signature valid."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "checked.pdf"
    path.write_bytes(pdf)
    report = pdfsig(path, nss_db_with(ca_pem, workdir / "nss"))
    assert report.text.count("Signature is Valid.") == signatures, report.text
    assert report.text.count("Certificate is Trusted.") == signatures, report.text
    unchanged, text = mutool_unchanged(path)
    if updated_after:
        assert "The signature is valid but there have been edits since signing." in text, text
    else:
        assert unchanged, text


def mutool_verdicts(pdf: Path) -> list[str]:
    """`mutool sign -v`'s verdict on each signature, in file order: "unchanged" (nothing after it), "edited" (valid,
    with updates after it; mutool does not judge whether they are allowed ones), or its text for anything else."""
    result = subprocess.run(["mutool", "sign", "-v", str(pdf)], capture_output=True, text=True)
    verdicts: list[str] = []
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("Verifying signature"):
            verdicts.append("")
        elif verdicts and line.strip() and not line.strip().startswith(("Distinguished name", "Certificate error")):
            text = line.strip()
            verdicts[-1] = {"The document is unchanged since signing.": "unchanged",
                            "The signature is valid but there have been edits since signing.": "edited"}.get(text, text)
    return verdicts


def qpdf_check(pdf: Path, warnings_ok: bool = False) -> tuple[bool, str]:
    """Whether `qpdf --check` finds the file's syntax and streams sound (exit 0, no warnings; with `warnings_ok`,
    exit 3 too: warnings only, such as a damaged image stream carried over from a damaged input)."""
    result = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, timeout=120)
    text = (result.stdout + result.stderr).decode("utf-8", "replace")  # qpdf quotes the file's own bytes
    return result.returncode == 0 or (warnings_ok and result.returncode == 3), text
