"""The PDF work as SealFlow's services do it, against its floors (run from bench/pdf_pipeline.py, which prints the
ratios):

* the sealing job: `app.jobs.runner.run_job` as the RQ worker runs it (a fresh app context per job, claim, audit
  chain, the sealing gate, stamp, sign, the document stored, the process resumed, commits) on real approved
  applications in a throwaway PostgreSQL database (SQLite when the server is unreachable), a 10-page contract with
  riding seal, watermark and QR code; against its stamp + sign core: app.pdf's `stamp` with the same plan (seal
  image, riding seal, watermark, QR code, the evidence the first job embedded), `place` and `sign_pdf` at B-T, with
  the seal's and the TSA's keys parsed once before the timing;
* `verify_document` (app.services.verification, in a fresh app context, as /verify runs it) on a document the job
  sealed, against pyHanko alone: PdfFileReader, then validate_pdf_signature for each embedded signature with a
  ValidationContext holding the root and the CRL (read once before the timing), no fetching, hard-fail revocation;
* page-by-page + riding seal on 1,000 pages: app.pdf's `stamp` with EveryPageSpec() and RidingSpec(), against bare
  pikepdf drawing the same Form XObjects (the seal on every page, one clipped riding slice per page) and saving.
  The ratio is the warm figure (the content already checked in this process, as when one process inspects and
  stamps); printed beside it, cold: content this process has not seen (new bytes each run: the document plus a
  numbered comment), walked by `check_document` first, and cold with the check kept on the upload's blob, as the
  worker stamps an upload that the web process inspected.

Each pair alternates which side goes first; one discarded run each before the timing; medians."""

from __future__ import annotations

import gc
import hashlib
import io
import itertools
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from flask import Flask
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from app.extensions import db
from app.jobs.runner import run_job
from app.models import CertificateAuthority, DocumentKind, Job, RevocationReason, SealApplication, SealKind, SealStatus
from app.pdf import (
    EVIDENCE_FILE,
    MAX_PAGE_DECODED,
    ContentCheck,
    EveryPageSpec,
    RidingSpec,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampPlan,
    appearance_aspect,
    make_signer,
    place,
    sign_pdf,
    stamp,
)
from app.pki import CertifiedKey, TimeStampAuthority, decrypt_key, load_certificate
from app.services import documents, keys, sealing, seals, verification
from app.services.queue import shutdown_embedded
from bench.organisation import SYSTEM, approve_applications, build_app, create_organisation

JOB_REPEATS = 15
VERIFY_REPEATS = 30
EVERY_PAGE_REPEATS = 7
JOB_PAGES = 10
EVERY_PAGE_PAGES = 1000


def interleaved(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each side, the sides taking turns (which goes first alternates), after one discarded run."""
    for run in sides.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for rep in range(repeats):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for name in order:
            gc.collect()
            start = time.perf_counter()
            sides[name]()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


# ------------------------------------------------------------------------------------------------ the job

@dataclass(frozen=True)
class CoreInputs:
    """What the job's stamp + sign needs, read from the database beforehand; plain values, so that another process
    can take them (the keys as the database keeps them, encrypted, with the secret that opens them)."""

    content: bytes
    plan: StampPlan
    field_name: str
    reason: str
    location: str
    placement: Any
    certify: bool
    secret: str
    seal_key: bytes
    seal_certificate: str
    tsa_key: bytes
    tsa_certificate: str
    root_certificate: str


class Core:
    """The job's stamp + sign on app.pdf alone, keys decrypted and parsed once when it is made."""

    def __init__(self, inputs: CoreInputs) -> None:
        self.inputs = inputs
        root = load_certificate(inputs.root_certificate)
        identity = SigningIdentity(decrypt_key(inputs.seal_key, inputs.secret),
                                   load_certificate(inputs.seal_certificate), (root,))
        self.signer = make_signer(identity)
        tsa = CertifiedKey(decrypt_key(inputs.tsa_key, inputs.secret), load_certificate(inputs.tsa_certificate))
        self.authority = TimeStampAuthority(tsa, chain=(root,))

    def run(self) -> bytes:
        c = self.inputs
        stamped = stamp(c.content, c.plan)
        found = place(stamped, [(c.placement, appearance_aspect(c.plan.seal_pdf))])[0]
        spec = SignSpec(field_name=c.field_name, page_index=found.page_index, box=found.rect, reason=c.reason,
                        location=c.location, appearance_pdf=c.plan.seal_pdf, certify=c.certify)
        return sign_pdf(stamped, self.signer, spec, timestamper=self.authority.timestamper())


def _evidence(sealed: bytes) -> dict[str, Any]:
    with pikepdf.open(io.BytesIO(sealed)) as pdf:
        return dict(json.loads(pdf.attachments[EVIDENCE_FILE].get_file().read_bytes()))


def core_inputs(app: Flask, application_id: int, sealed: bytes) -> CoreInputs:
    """The core of the job that sealed `application_id` (its evidence read back from `sealed`)."""
    with app.app_context():
        application = db.session.get(SealApplication, application_id)
        assert application is not None
        original = application.document(DocumentKind.ORIGINAL)
        assert original is not None
        seal = application.seal
        ca = db.session.execute(select(CertificateAuthority).order_by(CertificateAuthority.id).limit(1)).scalar()
        assert ca is not None and ca.tsa_encrypted_key is not None and ca.tsa_certificate_pem is not None
        assert seal.encrypted_key is not None
        plan = sealing.stamp_plan(application, seal.image_pdf, original.page_count, _evidence(sealed))
        return CoreInputs(documents.read_content(original), plan, f"SealFlow_{application.id}_{seal.id}",
                          f"Seal application #{application.id}", app.config["ORGANISATION_NAME"],
                          sealing.seal_placement(application.seal_page, application.seal_keyword),
                          app.config["CERTIFY"], app.config["KEY_SECRET"], seal.encrypted_key, seal.certificate_pem,
                          ca.tsa_encrypted_key, ca.tsa_certificate_pem, ca.certificate_pem)


def sealed_content(app: Flask, application_id: int) -> bytes:
    with app.app_context():
        application = db.session.get(SealApplication, application_id)
        assert application is not None
        document = application.document(DocumentKind.SEALED)
        assert document is not None, f"application {application_id} was not sealed"
        return documents.read_content(document)


def job_application(app: Flask, job_id: int) -> int:
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job is not None
        return int(job.params["application_id"])


# ------------------------------------------------------------------------------------------- verification

def pyhanko_verify(sealed: bytes, root: asn1_x509.Certificate, crl: bytes) -> list[bool]:
    """pyHanko alone: every embedded signature validated against the root and the CRL."""
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    context = ValidationContext(trust_roots=[root], crls=[crl], allow_fetching=False, revocation_mode="hard-fail")
    return [validate_pdf_signature(embedded, context).bottom_line for embedded in reader.embedded_signatures]


# ------------------------------------------------------------------------------------------ page by page

def floor_every_page(data: bytes, seal_pdf: bytes) -> bytes:
    """Bare pikepdf: the seal 30 mm wide 20 mm from the bottom-right corner of every page, and one clipped slice of
    a 40 mm riding seal on each page's right edge (groups of at most 10), unrotated A4 pages; one save."""
    mm = 72 / 25.4
    with pikepdf.open(io.BytesIO(data)) as pdf:
        with pikepdf.open(io.BytesIO(seal_pdf)) as source:
            page0 = source.pages[0]
            x1, y1, x2, y2 = (float(v) for v in page0.mediabox)
            seal, seal_w, seal_h = pdf.copy_foreign(page0.as_form_xobject()), x2 - x1, y2 - y1
        pages = list(pdf.pages)
        count = len(pages)
        groups = math.ceil(count / 10)
        sizes = [count // groups + (1 if g < count % groups else 0) for g in range(groups)]
        slots = [(size, position) for size in sizes for position in range(size)]
        page_scale, riding_scale = 30 * mm / seal_w, 40 * mm / seal_w
        for page, (size, position) in zip(pages, slots, strict=True):
            px1, py1, px2, py2 = (float(v) for v in page.mediabox)
            strip = seal_w / size
            piece = pdf.make_stream(
                f"q {position * strip:.4f} 0 {strip:.4f} {seal_h:.4f} re W n /S Do Q".encode(),
                Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                BBox=[position * strip, 0, (position + 1) * strip, seal_h],
                Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(S=seal)))
            seal_name = page.add_resource(seal, pikepdf.Name.XObject, prefix="P")
            piece_name = page.add_resource(piece, pikepdf.Name.XObject, prefix="R")
            u = px2 - 20 * mm - 30 * mm
            ru = px2 - (position + 1) * strip * riding_scale
            rv = py1 + (py2 - py1 - seal_h * riding_scale) / 2
            body = (f"q {page_scale:.4f} 0 0 {page_scale:.4f} {u:.4f} {py1 + 20 * mm:.4f} cm {seal_name} Do Q\n"
                    f"q {riding_scale:.4f} 0 0 {riding_scale:.4f} {ru:.4f} {rv:.4f} cm {piece_name} Do Q")
            page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
            page.contents_add(pikepdf.Stream(pdf, f"\nQ\n{body}\n".encode()))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


# ------------------------------------------------------------------------------------------------ report

@dataclass
class ServiceFigures:
    job_ms: float
    job_first_ms: float
    core_ms: float
    verify_ms: float
    pyhanko_ms: float
    every_page_ms: float
    every_page_floor_ms: float
    every_page_cold_ms: float
    every_page_marked_ms: float


def prepare(app: Flask, content: bytes, jobs_wanted: int) -> tuple[int, list[int]]:
    with app.app_context():
        db.create_all()
        org = create_organisation()
        # A revoked seal, so that the CRL lists something and the revocation check has work to do.
        revoked = seals.create_seal("Old Seal", SealKind.CONTRACT, SealImageSpec("BENCH ORG", "OLD SEAL"), SYSTEM)
        seals.set_status(revoked.id, SealStatus.REVOKED, SYSTEM, RevocationReason.SUPERSEDED)
        db.session.commit()
        return org.seal_id, approve_applications(org, content, jobs_wanted)


def run_job_in_context(app: Flask, job_id: int) -> None:
    with app.app_context():  # as AppWorker.execute_job: a fresh app context (and session) per job
        outcome = run_job(job_id)
    if outcome != "done":
        raise RuntimeError(f"the sealing job {job_id} ended {outcome!r}")


def measure(instance_dir: Path, database_uri: str, text_document: Callable[[int], bytes]) -> ServiceFigures:
    """The three comparisons on one app; RSA-2048 keys, as production makes them."""
    app = build_app(instance_dir, database_uri, SEAL_KEY_ALGORITHM="rsa2048")
    try:
        seal_id, jobs = prepare(app, text_document(JOB_PAGES), JOB_REPEATS + 2)
        first = jobs.pop(0)
        start = time.perf_counter()
        run_job_in_context(app, first)  # the worker's first job: keys decrypted, imports, caches filled
        job_first = time.perf_counter() - start
        first_application = job_application(app, first)
        sealed = sealed_content(app, first_application)
        core = Core(core_inputs(app, first_application, sealed))
        waiting = iter(jobs)
        times = interleaved({"job": lambda: run_job_in_context(app, next(waiting)), "core": core.run}, JOB_REPEATS)

        with app.app_context():
            root = asn1_x509.Certificate.load(keys.trust_roots()[0].public_bytes(serialization.Encoding.DER))
            crl = keys.revocation_list().public_bytes(serialization.Encoding.DER)

        def sealflow_verify() -> None:
            with app.app_context():  # as a request to /verify
                report = verification.verify_document(sealed)
            assert report.verdict == "valid", report.reason

        def floor_verify() -> None:
            assert all(pyhanko_verify(sealed, root, crl))

        verify = interleaved({"sealflow": sealflow_verify, "pyhanko": floor_verify}, VERIFY_REPEATS)

        long_document = text_document(EVERY_PAGE_PAGES)
        with app.app_context():
            seal_pdf = seals.get_seal(seal_id).image_pdf
        plan = StampPlan(seal_pdf=seal_pdf, every_page=EveryPageSpec(), riding=RidingSpec())
        unseen = (long_document + f"\n% unseen {n}\n".encode() for n in itertools.count())

        def marked() -> bytes:
            data = next(unseen)
            return stamp(data, plan, checked=ContentCheck(hashlib.sha256(data).hexdigest(), MAX_PAGE_DECODED))

        every = interleaved({"sealflow": lambda: stamp(long_document, plan),
                             "pikepdf": lambda: floor_every_page(long_document, seal_pdf),
                             "cold": lambda: stamp(next(unseen), plan), "marked": marked}, EVERY_PAGE_REPEATS)
        with app.app_context():
            db.engine.dispose()
        return ServiceFigures(times["job"] * 1000, job_first * 1000, times["core"] * 1000, verify["sealflow"] * 1000,
                              verify["pyhanko"] * 1000, every["sealflow"] * 1000, every["pikepdf"] * 1000,
                              every["cold"] * 1000, every["marked"] * 1000)
    finally:
        shutdown_embedded(app)


def print_table(figures: ServiceFigures, database: str) -> dict[str, float]:
    """The human-readable table; the ratios by their closing-line names."""
    ratios = {
        "verify_document_ratio": figures.verify_ms / figures.pyhanko_ms,
        "sealing_job_ratio": figures.job_ms / figures.core_ms,
        "page_by_page_riding_1000_ratio": figures.every_page_ms / figures.every_page_floor_ms,
    }
    print(f"\nservices on {database} (medians; RSA-2048 keys; B-T with SealFlow's own TSA)")
    print(f"{'figure':<44} {'sealflow_ms':>11} {'floor_ms':>9} {'ratio':>6}  floor")
    rows = [
        (f"sealing job, {JOB_PAGES} pages (run_job)", figures.job_ms, figures.core_ms,
         ratios["sealing_job_ratio"], "app.pdf stamp + place + sign_pdf, keys parsed once"),
        ("verify_document", figures.verify_ms, figures.pyhanko_ms, ratios["verify_document_ratio"],
         "pyHanko validate_pdf_signature, root + CRL given"),
        (f"page-by-page + riding, {EVERY_PAGE_PAGES} pages (stamp)", figures.every_page_ms,
         figures.every_page_floor_ms, ratios["page_by_page_riding_1000_ratio"], "bare pikepdf"),
        ("  the same, cold: content not seen before", figures.every_page_cold_ms, figures.every_page_floor_ms,
         figures.every_page_cold_ms / figures.every_page_floor_ms, "bare pikepdf (not a goal: for reading)"),
        ("  the same, cold with the upload's check", figures.every_page_marked_ms, figures.every_page_floor_ms,
         figures.every_page_marked_ms / figures.every_page_floor_ms, "bare pikepdf (not a goal: the worker's case)"),
    ]
    for name, mine, floor, ratio, what in rows:
        print(f"{name:<44} {mine:>11.1f} {floor:>9.1f} {ratio:>6.2f}  {what}")
    print(f"(the worker's first sealing job, keys not yet decrypted in the process: {figures.job_first_ms:.0f} ms)")
    return ratios
