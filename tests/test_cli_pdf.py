"""`flask --app wsgi pdf …`: each step by hand, with clear errors and exit codes."""

import io
import re
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from app.extensions import db
from app.models import DocumentKind, SealApplication
from app.pdf import StampPlan, stamp
from app.services import documents
from tests.conftest import CORPUS, contract_pdf, file_and_approve, work_off_queue
from tests.pdf.mutants import form_xobject, zeros
from tests.pdf.verifiers import mutool_unchanged, nss_db_with, pdfsig

SOURCE = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


@pytest.fixture
def run(app, org):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["pdf", *args])

    return invoke


def test_seal_image_in_three_formats(run, org, tmp_path: Path):
    for suffix in ("pdf", "png", "svg"):
        result = run("seal-image", "--organisation", "测试有限公司", "--purpose", "合同专用章", "-o",
                     str(tmp_path / f"s.{suffix}"))
        assert result.exit_code == 0, result.output
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    assert Image.open(tmp_path / "s.png").mode == "RGBA"
    assert run("seal-image", "--seal", org.contract_seal.name, "-o", str(tmp_path / "r.png")).exit_code == 0
    assert run("seal-image", "-o", str(tmp_path / "x.png")).exit_code == 2  # neither --seal nor --organisation


def test_stamp_sign_verify_by_hand(run, org, tmp_path: Path):
    stamped, signed = tmp_path / "stamped.pdf", tmp_path / "signed.pdf"
    result = run("stamp", str(SOURCE), "-o", str(stamped), "--seal", org.contract_seal.name, "--page", "1",
                 "--riding", "--watermark", "机密", "--qr", "https://seals.example.com/v/1")
    assert result.exit_code == 0, result.output
    result = run("sign", str(stamped), "-o", str(signed), "--seal", org.contract_seal.name, "--certify",
                 "--reason", "by hand")
    assert result.exit_code == 0, result.output
    verified = run("verify", str(signed))
    assert verified.exit_code == 0, verified.output
    lines = verified.output.strip().splitlines()
    assert lines[0].startswith("Seal: valid · Contract Seal") and "timestamped" in lines[0]
    assert lines[-1].startswith("overall: valid")
    ca = run("export-ca", "-o", str(tmp_path / "ca.pem"))
    assert ca.exit_code == 0
    report = pdfsig(signed, nss_db_with((tmp_path / "ca.pem").read_text(), tmp_path / "nss"))
    assert report.valid and report.trusted, report.text
    assert mutool_unchanged(signed)[0]


def test_verify_exits_non_zero_for_unsigned_and_tampered_files(run, org, tmp_path: Path):
    unsigned = run("verify", str(SOURCE))
    assert unsigned.exit_code == 1 and "overall: unsigned" in unsigned.output
    signed = tmp_path / "signed.pdf"
    assert run("sign", str(SOURCE), "-o", str(signed), "--seal", org.contract_seal.name).exit_code == 0
    data = bytearray(signed.read_bytes())
    index = data.index(b"stream") + 20
    data[index] ^= 0x01
    signed.write_bytes(bytes(data))
    tampered = run("verify", str(signed))
    assert tampered.exit_code == 1 and "Seal: invalid" in tampered.output


def test_verify_prints_the_approval_evidence_the_signature_covers(app, client, run, org, tmp_path: Path):
    application_id = file_and_approve(client, org.contract_seal.id, contract_pdf())
    work_off_queue(app)
    application = db.session.get(SealApplication, application_id)
    assert application is not None and application.document(DocumentKind.SEALED) is not None
    sealed = tmp_path / "sealed.pdf"
    sealed.write_bytes(documents.read_content(application.document(DocumentKind.SEALED)))

    verified = run("verify", str(sealed))
    assert verified.exit_code == 0, verified.output
    lines = verified.output.strip().splitlines()
    assert re.fullmatch(r"SealFlow_\d+_\d+: valid · .*", lines[0]), lines
    assert re.fullmatch(rf"evidence: covered by the signature 'SealFlow_\d+_\d+' · application #{application_id} · "
                        rf"seal {org.contract_seal.name} · sealed \d{{4}}-.* UTC", lines[1]), lines
    assert re.fullmatch(r"  level 1 \(.+\): Harry at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines[2]), lines
    assert lines[3] == f"  original document SHA-256: {application.document(DocumentKind.ORIGINAL).sha256}"
    assert re.fullmatch(r"  audit chain head: [0-9a-f]{64}", lines[4]), lines
    assert lines[5].startswith("overall: valid")


def test_verify_does_not_show_evidence_no_signature_covers(run, org, tmp_path: Path):
    path = tmp_path / "stamped.pdf"
    path.write_bytes(stamp(SOURCE.read_bytes(), StampPlan(evidence={"format": "sealflow-evidence/1"})))
    verified = run("verify", str(path))
    assert verified.exit_code == 1
    assert "evidence: not covered, not shown · the PDF carries no signature" in verified.output
    assert "evidence: none" in run("verify", str(SOURCE)).output


@pytest.mark.parametrize("args, message", [
    (["sign", str(SOURCE), "-o", "OUT", "--seal", "No Such Seal"], "there is no seal named"),
    (["stamp", str(SOURCE), "-o", "OUT", "--seal", "Contract Seal", "--keyword", "乙方（盖章）"],
     "is not in the document's text"),
    (["stamp", str(CORPUS / "pdf" / "libreoffice-writer-password.pdf"), "-o", "OUT", "--seal", "Contract Seal",
      "--page", "1"], "password"),
])
def test_errors_are_one_clear_line_and_no_output(run, tmp_path: Path, args: list[str], message: str):
    out = tmp_path / "out.pdf"
    result = run(*[str(out) if a == "OUT" else a for a in args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_stamp_with_nothing_to_draw_is_refused_and_writes_nothing(app, org, tmp_path):
    out = tmp_path / "o.pdf"
    result = app.test_cli_runner().invoke(args=["pdf", "stamp", str(SOURCE), "-o", str(out), "--seal", "Contract Seal"])
    assert result.exit_code == 2 and "nothing to draw" in result.output and not out.exists()


def _hostile(tmp_path: Path, edit) -> Path:
    with pikepdf.open(io.BytesIO(contract_pdf())) as pdf:
        edit(pdf, pdf.pages[-1])
        path = tmp_path / "hostile.pdf"
        pdf.save(path, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return path


def _form_of(mib: int):
    def edit(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        form = form_xobject(pdf, zeros(mib), pikepdf.Name.FlateDecode)
        page.obj.Resources.XObject = pikepdf.Dictionary(Big=form)
        page.contents_add(pdf.make_stream(b"q /Big Do Q"), prepend=False)
    return edit


def _text_field_named_seal(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    widget = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                  FT=pikepdf.Name.Tx, T=pikepdf.String("Seal"), Rect=[0, 0, 9, 9]))
    page.obj.Annots = pikepdf.Array([widget])
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]))


def test_the_decoded_size_limit_is_the_setting(app, run, tmp_path: Path):
    """SEALFLOW_MAX_PAGE_DECODED_MB reaches every reader: here the keyword search of `pdf stamp`."""
    app.config["MAX_PAGE_DECODED_MB"] = 4
    source, out = _hostile(tmp_path, _form_of(8)), tmp_path / "out.pdf"
    result = run("stamp", str(source), "-o", str(out), "--seal", "Contract Seal", "--keyword", "甲方（盖章）")
    assert result.exit_code == 1 and "page 2 expands to more than 4 MiB" in result.output and not out.exists()
    app.config["MAX_PAGE_DECODED_MB"] = 64
    result = run("stamp", str(source), "-o", str(out), "--seal", "Contract Seal", "--keyword", "甲方（盖章）")
    assert result.exit_code == 0, result.output


def test_sign_refuses_a_field_of_its_name_that_is_no_signature_field(run, tmp_path: Path):
    source, out = _hostile(tmp_path, _text_field_named_seal), tmp_path / "out.pdf"
    result = run("sign", str(source), "-o", str(out), "--seal", "Contract Seal", "--field", "Seal")
    assert result.exit_code == 1 and "that is not a signature field" in result.output and not out.exists()


def test_a_second_signer_on_a_certified_file_is_refused_before_anything_is_written(run, org, tmp_path: Path):
    certified, second = tmp_path / "certified.pdf", tmp_path / "second.pdf"
    annotated = CORPUS / "pdf" / "annotated_pdf.pdf"
    result = run("sign", str(annotated), "-o", str(certified), "--seal", org.contract_seal.name, "--certify")
    assert result.exit_code == 0, result.output
    result = run("sign", str(certified), "-o", str(second), "--seal", org.contract_seal.name, "--field", "Second")
    assert result.exit_code == 1 and not second.exists(), result.output
    assert result.output.strip() == ("error: the document is certified by 'Seal': later signatures may only fill the "
                                     "empty signature fields it was certified with, not one named 'Second' "
                                     "(it has none)")
    verified = run("verify", str(certified))
    assert verified.exit_code == 0 and "Traceback" not in verified.output, verified.output


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
def test_a_second_signature_on_an_annotated_file_keeps_the_first_valid(run, org, tmp_path: Path, level: str):
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    annotated = CORPUS / "pdf" / "annotated_pdf.pdf"
    assert run("sign", str(annotated), "-o", str(first), "--seal", org.contract_seal.name, "--level", level,
               ).exit_code == 0
    result = run("sign", str(first), "-o", str(second), "--seal", org.contract_seal.name, "--field", "Second",
                 "--page", "1", "--level", level)
    assert result.exit_code == 0, result.output
    verified = run("verify", str(second))
    assert verified.exit_code == 0, verified.output
    lines = verified.output.strip().splitlines()
    assert lines[0].startswith("Seal: valid") and lines[-1].startswith("overall: valid"), lines
