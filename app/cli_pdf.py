"""`flask --app wsgi pdf …`: each step of sealing by hand, for operators (seal image, stamp, sign, verify)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli import clear_errors
from app.extensions import db
from app.models.audit import Actor
from app.pdf import (
    EveryPageSpec,
    EvidenceApproval,
    EvidenceReport,
    KeywordSpec,
    QrSpec,
    RidingSpec,
    SealImageSpec,
    StampPlan,
    StampSpec,
    WatermarkSpec,
    render_seal_pdf,
    render_seal_png,
    render_seal_svg,
    stamp,
)
from app.services import keys, seals, signing, verification
from app.services.documents import pdf_limits
from app.services.sealing import seal_placement

pdf_cli = AppGroup("pdf")  # registered, with its help, in app/cli.py
IN_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
OUT_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)
CORNERS = click.Choice(["bottom-left", "bottom-right", "top-left", "top-right"])


@pdf_cli.command("export-ca")
@click.option("-o", "--output", type=OUT_FILE, help="File to write (default: stdout).")
def export_ca(output: Path | None) -> None:
    """Write the organisation's root CA certificate (PEM) for relying parties' trust stores."""
    pem = keys.root_certificate_pem()
    db.session.commit()
    if output is None:
        click.echo(pem, nl=False)
    else:
        output.write_text(pem)
        click.echo(f"root CA certificate written to {output}")


@pdf_cli.command("seal-image")
@click.option("--seal", "seal_name", help="A seal of the registry; or draw one with the options below.")
@click.option("--organisation", help="Name along the arc (round), the owner (oval), the name (square).")
@click.option("--purpose", default="", help="e.g. 合同专用章")
@click.option("--serial", default="", help="Serial number along the lower arc (round seals).")
@click.option("--shape", type=click.Choice(["round", "oval", "square"]), default="round")
@click.option("--size-mm", type=float, default=40.0)
@click.option("-o", "--output", type=OUT_FILE, required=True, help="A .pdf, .png or .svg file.")
@clear_errors
def seal_image(seal_name: str | None, organisation: str | None, purpose: str, serial: str, shape: str,
               size_mm: float, output: Path) -> None:
    """Write a seal image: a registry seal's, or one drawn from the options."""
    if seal_name:
        image = seals.seal_named(seal_name).image_pdf
        svg = None
    elif organisation:
        spec = SealImageSpec(organisation, purpose, serial, shape, size_mm)  # type: ignore[arg-type]
        image, svg = render_seal_pdf(spec), render_seal_svg(spec)
    else:
        raise click.UsageError("give --seal NAME or --organisation TEXT")
    suffix = output.suffix.lower()
    if suffix == ".png":
        output.write_bytes(render_seal_png(image))
    elif suffix == ".svg":
        if svg is None:
            raise click.UsageError("registry seals are written as .pdf or .png")
        output.write_text(svg)
    elif suffix == ".pdf":
        output.write_bytes(image)
    else:
        raise click.UsageError("the output must end in .pdf, .png or .svg")
    click.echo(f"seal image written to {output}")


@pdf_cli.command("stamp")
@click.argument("source", type=IN_FILE)
@click.option("-o", "--output", type=OUT_FILE, required=True)
@click.option("--seal", "seal_name", required=True, help="The registry seal to draw.")
@click.option("--page", type=int, help="Seal on this page (1-based; -1 is the last).")
@click.option("--keyword", help="Seal centred on the last occurrence of this text, e.g. 甲方（盖章）.")
@click.option("--x-mm", type=float, default=25.0)
@click.option("--y-mm", type=float, default=30.0)
@click.option("--size-mm", type=float, default=40.0)
@click.option("--corner", type=CORNERS, default="bottom-right")
@click.option("--every-page", help='The seal on every selected page: "all", "odd", "1-3,5" …')
@click.option("--riding", is_flag=True, help="A riding seal across the page edges.")
@click.option("--watermark", help="Diagonal watermark text on every page.")
@click.option("--qr", "qr_url", help="A QR code with this URL on the last page.")
@clear_errors
def stamp_command(source: Path, output: Path, seal_name: str, page: int | None, keyword: str | None,
                  x_mm: float, y_mm: float, size_mm: float, corner: str, every_page: str | None, riding: bool,
                  watermark: str | None, qr_url: str | None) -> None:
    """Draw seals, riding seal, watermark and QR code onto a PDF (before it is signed)."""
    if not (page is not None or keyword or every_page or riding or watermark or qr_url):
        raise click.UsageError("nothing to draw: give --page or --keyword (where the seal goes), or --every-page, "
                               "--riding, --watermark or --qr")
    placements: tuple[StampSpec | KeywordSpec, ...] = ()
    if keyword:
        placements = (KeywordSpec(keyword, size_mm=size_mm),)
    elif page is not None:
        placements = (StampSpec(page, x_mm, y_mm, size_mm, corner),)  # type: ignore[arg-type]
    plan = StampPlan(
        seal_pdf=seals.seal_named(seal_name).image_pdf, seals=placements,
        every_page=EveryPageSpec(every_page, size_mm=size_mm * 0.6) if every_page else None,
        riding=RidingSpec(size_mm=size_mm) if riding else None,
        watermark=WatermarkSpec(watermark) if watermark else None,
        qr=QrSpec(qr_url) if qr_url else None,
    )
    output.write_bytes(stamp(source.read_bytes(), plan, **pdf_limits()))
    click.echo(f"stamped PDF written to {output}")


@pdf_cli.command("sign")
@click.argument("source", type=IN_FILE)
@click.option("-o", "--output", type=OUT_FILE, required=True)
@click.option("--seal", "seal_name", required=True, help="The registry seal whose key signs.")
@click.option("--page", type=int, default=-1, show_default=True, help="Signature on this page.")
@click.option("--keyword", help="Signature centred on the last occurrence of this text.")
@click.option("--field", "field_name", default="Seal", show_default=True, help="Signature field name.")
@click.option("--reason", default="", help="Reason recorded in the signature.")
@click.option("--certify", is_flag=True, help="Certification signature (DocMDP, form filling allowed).")
@click.option("--level", type=click.Choice(["B-B", "B-T", "B-LT", "B-LTA"]), help="Default: SEALFLOW_SIGNATURE_LEVEL.")
@clear_errors
def sign_command(source: Path, output: Path, seal_name: str, page: int, keyword: str | None, field_name: str,
                 reason: str, certify: bool, level: str | None) -> None:
    """Sign a PDF (PAdES) with a seal's key; the seal image is the signature's appearance."""
    seal = seals.usable_seal(seals.seal_named(seal_name).id)
    signed = signing.sign_with_seal(seal, source.read_bytes(), field_name, reason, seal_placement(page, keyword),
                                    certify=certify, level=level)
    db.session.commit()  # the built-in TSA's certificate is created on first use
    output.write_bytes(signed)
    click.echo(f"signed PDF written to {output}")


def _approval_line(approval: EvidenceApproval) -> str:
    behalf = f" on behalf of {approval.on_behalf_of}" if approval.on_behalf_of else ""
    return (f"  level {approval.level} ({approval.label or approval.role}): {approval.name}{behalf} "
            f"at {approval.at:%Y-%m-%d %H:%M:%S} UTC")


def _evidence_lines(report: EvidenceReport | None) -> list[str]:
    """The approval evidence as `pdf verify` prints it; facts only when the first signature covers them."""
    if report is None:
        return ["evidence: none"]
    if report.content is None:
        return [f"evidence: {report.state.replace('-', ' ')}, not shown · {report.reason}"]
    facts = report.content
    return [f"evidence: {report.reason} · application #{facts.application_id} · seal {facts.seal} · "
            f"sealed {facts.sealed_at:%Y-%m-%d %H:%M:%S} UTC",
            *(_approval_line(approval) for approval in facts.approvals),
            *([f"  signed under authorization #{facts.authorization.id} of {facts.authorization.leader}, granted "
               f"{facts.authorization.granted_at:%Y-%m-%d %H:%M:%S} UTC, letter SHA-256 "
               f"{facts.authorization.letter_sha256}"] if facts.authorization else []),
            f"  original document SHA-256: {facts.document_sha256 or 'not recorded'}",
            f"  audit chain head: {facts.audit_chain_head}"]


@pdf_cli.command("verify")
@click.argument("source", type=IN_FILE)
@clear_errors
def verify_command(source: Path) -> None:
    """One line per signature, then the approval evidence; exit status 1 unless every signature is valid."""
    report = verification.verify_document(source.read_bytes())
    for s in report.signatures:
        when = s.timestamp_time or s.signing_time
        click.echo(f"{s.field_name}: {s.verdict} · {s.seal_name or s.signer}"
                   f"{f' · {when:%Y-%m-%d %H:%M:%S} UTC' if when else ''}"
                   f"{' · timestamped' if s.timestamp_time else ''} · {s.reason}")
    for line in _evidence_lines(report.evidence):
        click.echo(line)
    click.echo(f"overall: {report.verdict} · {report.reason}")
    sys.exit(0 if report.verdict == "valid" else 1)


@pdf_cli.command("token-key")
@click.option("--seal", "seal_name", required=True)
@clear_errors
def token_key(seal_name: str) -> None:
    """Give a seal a new key generated inside the configured PKCS#11 token (SEALFLOW_PKCS11_*); the key never
    leaves the token, and the seal's software key is discarded."""
    seal = seals.seal_named(seal_name)
    keys.move_seal_key_to_token(seal, Actor.system("cli"))
    db.session.commit()
    click.echo(f"the key of “{seal.name}” is now {seal.token_key_label} in token "
               f"{current_app.config['PKCS11_TOKEN']}")
