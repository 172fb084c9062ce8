"""SealFlow's stamp + sign pipeline against "the floor": the same work done directly with pikepdf and pyHanko.

Run by hand: `.venv/bin/python bench/pdf_pipeline.py` (add `--profile 10` to see where SealFlow spends its time).

For 1, 10, 100 and 1,000-page A4 text documents it prints the median wall time and the peak memory of

* SealFlow: `stamp` (seal on the last page, riding seal, watermark, QR code) then `locate` the signature box
  and `sign_pdf` (PAdES B-T, visible seal appearance, SealFlow's in-process TSA) — what the sealing service does;
* the floor: one pikepdf pass drawing equivalent Form XObjects (seal, one clipped riding slice per page,
  watermark, QR) and one save, then pyHanko's PdfSigner with a key parsed once and the same TSA.

The floor uses no SealFlow code except its inputs, prepared once outside the timing: the rendered seal,
watermark and QR PDFs, the keys, and the TSA object. Times are measured in this process, the two
implementations alternating, after one discarded run each; peak memory in a fresh child process per
(size, implementation). Both ask the TSA for a new pyHanko timestamper per document, as the sealing service does.
The last line is `ratio_to_floor=<SealFlow median / floor median at 10 pages>`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

import pikepdf  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15  # noqa: E402
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder_data  # noqa: E402
from pyhanko.pdf_utils.content import ImportedPdfPage  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.general import get_pyca_cryptography_hash  # noqa: E402
from pyhanko.stamp import TextStampStyle  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from app.pdf import (  # noqa: E402
    QrSpec,
    RidingSpec,
    SealImageSpec,
    SigningIdentity,
    SignSpec,
    StampPlan,
    StampSpec,
    WatermarkSpec,
    locate,
    make_signer,
    render_seal_pdf,
    sign_pdf,
    stamp,
)
from app.pdf.appearance import CAPTION_SHARE  # noqa: E402
from app.pdf.overlays import qr_drawing, watermark_pdf  # noqa: E402
from app.pki import TimeStampAuthority  # noqa: E402
from app.pki.ca import CertifiedKey, create_root_ca, issue_seal_certificate, issue_tsa_certificate  # noqa: E402

SIZES = (1, 10, 100, 1000)
REPEATS = {1: 15, 10: 15, 100: 5, 1000: 3}
WATERMARK = "CONFIDENTIAL · bench · 2026-11-23"
QR_URL = "https://seals.example.com/verify/1"
MM = 72 / 25.4
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
FLOOR_APPEARANCE = "pyHanko TextStampStyle (signer + time) over the seal PDF as background (ImportedPdfPage)"

# The floor's layout, in points, chosen to match SealFlow's defaults for these unrotated A4 inputs.
SEAL_W = 40 * MM  # seal on the last page, 25 mm from the bottom-right corner (StampSpec defaults)
SEAL_OFFSET = 25 * MM
RIDING_W = 40 * MM  # riding seal 40 mm wide, at most 10 slices per group, vertically centred (RidingSpec)
RIDING_MAX_SLICES = 10
QR_OFFSET = 12 * MM  # QR 12 mm from the bottom-left corner (QrSpec defaults)
SIG_W, SIG_X, SIG_Y = 40 * MM, 30 * MM, 40 * MM  # signature box from the bottom-right corner
SIG_ASPECT = 1 / (1 - CAPTION_SHARE)  # seal above, caption beneath: the same box SealFlow signs into


# ---------------------------------------------------------------------------------------------------- inputs

def write_inputs(workdir: Path) -> None:
    """Everything both pipelines read, made once: documents, keys, rendered seal/watermark/QR."""
    for pages in SIZES:
        (workdir / f"input-{pages}.pdf").write_bytes(text_document(pages))
    ca = create_root_ca("Bench Org")
    seal_key = issue_seal_certificate(ca, "Contract Seal", "Bench Org", "rsa2048")
    tsa_key = issue_tsa_certificate(ca, "Bench Org")
    for name, certified in (("ca", ca), ("seal", seal_key), ("tsa", tsa_key)):
        (workdir / f"{name}.key.pem").write_bytes(certified.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (workdir / f"{name}.cert.pem").write_text(certified.certificate_pem)
    (workdir / "seal.pdf").write_bytes(render_seal_pdf(SealImageSpec("BENCH ORG", "CONTRACT SEAL", "1234567890")))
    width, height = A4
    (workdir / "watermark.pdf").write_bytes(watermark_pdf(WatermarkSpec(WATERMARK), width, height))
    (workdir / "qr.pdf").write_bytes(qr_page(QrSpec(QR_URL)))


def qr_page(spec: QrSpec) -> bytes:
    """The QR code as a one-page PDF, an input the floor imports like the seal and the watermark."""
    drawing = qr_drawing(spec)
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(drawing.width, drawing.height))
    pdf.pages[0].Contents = pdf.make_stream(drawing.ops)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def text_document(pages: int) -> bytes:
    """An A4 document with a heading and a paragraph of text on every page."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    words = ("The parties agree that the seal affixed below binds the organisation to the terms of this "
             "contract, including every annex listed on the last page. ").split()
    for page in range(1, pages + 1):
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(72, 770, f"Contract page {page} of {pages}")
        text = canvas.beginText(72, 740)
        text.setFont("Helvetica", 11)
        for line in range(30):
            text.textLine(" ".join(words[(line + k) % len(words)] for k in range(12)))
        canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


@dataclass
class Materials:
    """Inputs loaded and keys parsed, ready for both pipelines (nothing here is timed)."""

    inputs: dict[int, bytes]
    seal_path: Path
    seal_pdf: bytes
    watermark_pdf: bytes
    qr_pdf: bytes
    sealflow_signer: signers.Signer
    floor_signer: signers.Signer
    authority: TimeStampAuthority  # each run asks it for a new timestamper, as the sealing service does
    root: Any


def load_materials(workdir: Path, sizes: tuple[int, ...] = SIZES) -> Materials:
    def certified(name: str) -> CertifiedKey:
        key = serialization.load_pem_private_key((workdir / f"{name}.key.pem").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return CertifiedKey(key, x509.load_pem_x509_certificate((workdir / f"{name}.cert.pem").read_bytes()))

    ca, seal, tsa = certified("ca"), certified("seal"), certified("tsa")
    authority = TimeStampAuthority(tsa, chain=(ca.certificate,))
    return Materials(
        inputs={pages: (workdir / f"input-{pages}.pdf").read_bytes() for pages in sizes},
        seal_path=workdir / "seal.pdf",
        seal_pdf=(workdir / "seal.pdf").read_bytes(),
        watermark_pdf=(workdir / "watermark.pdf").read_bytes(),
        qr_pdf=(workdir / "qr.pdf").read_bytes(),
        sealflow_signer=make_signer(SigningIdentity(seal.key, seal.certificate, (ca.certificate,))),
        floor_signer=floor_signer(workdir),
        authority=authority,
        root=load_cert_from_pemder(str(workdir / "ca.cert.pem")),
    )


# -------------------------------------------------------------------------------------------------- SealFlow

def run_sealflow(m: Materials, pages: int) -> bytes:
    """What the sealing service does: stamp the plan, find the signature box, sign (B-T)."""
    data = m.inputs[pages]
    plan = StampPlan(
        seal_pdf=m.seal_pdf,
        every_page=None,
        riding=RidingSpec() if pages > 1 else None,  # a riding seal needs two pages; the service leaves it out too
        watermark=WatermarkSpec(WATERMARK),
        qr=QrSpec(QR_URL),
        seals=(StampSpec(page=-1),),
    )
    stamped = stamp(data, plan)
    with pikepdf.open(io.BytesIO(stamped)) as pdf:
        box = locate(stamped, pdf, StampSpec(page=-1, x_mm=30, y_mm=40), SIG_ASPECT)[0]
    spec = SignSpec("Seal", box.page_index, box.rect, appearance_pdf=m.seal_pdf)
    return sign_pdf(stamped, m.sealflow_signer, spec, timestamper=m.authority.timestamper())


# ----------------------------------------------------------------------------------------------------- floor

class ParsedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner, except that the key it signs with is parsed once (SimpleSigner.sign_raw
    re-parses the DER key on every signature)."""

    def __init__(self, cert: object, key_info: object, registry: SimpleCertificateStore, key: rsa.RSAPrivateKey):
        super().__init__(signing_cert=cert, signing_key=key_info, cert_registry=registry)
        self._parsed = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self._parsed.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


def floor_signer(workdir: Path) -> signers.Signer:
    key_pem = (workdir / "seal.key.pem").read_bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    registry = SimpleCertificateStore.from_certs([load_cert_from_pemder(str(workdir / "ca.cert.pem"))])
    return ParsedKeySigner(load_cert_from_pemder(str(workdir / "seal.cert.pem")),
                           load_private_key_from_pemder_data(key_pem, None), registry, key)


def _form(pdf: pikepdf.Pdf, data: bytes) -> tuple[pikepdf.Object, float, float]:
    with pikepdf.open(io.BytesIO(data)) as source:
        page = source.pages[0]
        x1, y1, x2, y2 = (float(v) for v in page.mediabox)
        return pdf.copy_foreign(page.as_form_xobject()), x2 - x1, y2 - y1


def _cm(a: float, d: float, e: float, f: float) -> str:
    return f"{a:.4f} 0 0 {d:.4f} {e:.4f} {f:.4f} cm"


def floor_stamp(m: Materials, data: bytes) -> tuple[bytes, tuple[int, int, int, int], int]:
    """Seal, riding slices, watermark and QR as Form XObjects on unrotated pages; one save."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        seal, seal_w, seal_h = _form(pdf, m.seal_pdf)
        mark, mark_w, mark_h = _form(pdf, m.watermark_pdf)
        qr, _, _ = _form(pdf, m.qr_pdf)
        count = len(pdf.pages)
        groups = math.ceil(count / RIDING_MAX_SLICES)
        sizes = [count // groups + (1 if g < count % groups else 0) for g in range(groups)] if count > 1 else []
        slot = [(size, position) for size in sizes for position in range(size)]
        scale = RIDING_W / seal_w
        for index, page in enumerate(pdf.pages):
            x1, y1, x2, y2 = (float(v) for v in page.mediabox)
            width, height = x2 - x1, y2 - y1
            body = [f"q {_cm(width / mark_w, height / mark_h, x1, y1)} "
                    f"{page.add_resource(mark, pikepdf.Name.XObject, prefix='W')} Do Q"]
            if slot:
                size, position = slot[index]
                strip = seal_w / size
                piece = pdf.make_stream(
                    f"q {position * strip:.4f} 0 {strip:.4f} {seal_h:.4f} re W n /S Do Q".encode(),
                    Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                    BBox=[position * strip, 0, (position + 1) * strip, seal_h],
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(S=seal)))
                u = x2 - (position + 1) * strip * scale
                v = y1 + (height - seal_h * scale) / 2
                body.append(f"q {_cm(scale, scale, u, v)} {page.add_resource(piece, pikepdf.Name.XObject, prefix='R')}"
                            " Do Q")
            if index == count - 1:
                s = SEAL_W / seal_w
                body.append(f"q {_cm(s, s, x2 - SEAL_OFFSET - SEAL_W, y1 + SEAL_OFFSET)} "
                            f"{page.add_resource(seal, pikepdf.Name.XObject, prefix='S')} Do Q")
                body.append(f"q {_cm(1, 1, x1 + QR_OFFSET, y1 + QR_OFFSET)} "
                            f"{page.add_resource(qr, pikepdf.Name.XObject, prefix='Q')} Do Q")
                box = (int(x2 - SIG_X - SIG_W), int(y1 + SIG_Y), int(x2 - SIG_X), int(y1 + SIG_Y + SIG_W * SIG_ASPECT))
            page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
            page.contents_add(pikepdf.Stream(pdf, ("\nQ\n" + "\n".join(body) + "\n").encode()))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue(), box, count - 1


def run_floor(m: Materials, pages: int) -> bytes:
    """The same work straight on pikepdf and pyHanko."""
    stamped, box, page_index = floor_stamp(m, m.inputs[pages])
    writer = IncrementalPdfFileWriter(io.BytesIO(stamped), strict=False)
    meta = signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    style = TextStampStyle(stamp_text="%(signer)s\n%(ts)s", border_width=0,
                           background=ImportedPdfPage(str(m.seal_path)))
    pdf_signer = signers.PdfSigner(meta, signer=m.floor_signer, stamp_style=style,
                                   timestamper=m.authority.timestamper(),
                                   new_field_spec=fields.SigFieldSpec("Seal", on_page=page_index, box=box))
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out)
    return out.getvalue()


PIPELINES: dict[str, Callable[[Materials, int], bytes]] = {"sealflow": run_sealflow, "floor": run_floor}


# ------------------------------------------------------------------------------------------------ measuring

def time_once(run: Callable[[Materials, int], bytes], m: Materials, pages: int) -> float:
    gc.collect()
    start = time.perf_counter()
    run(m, pages)
    return time.perf_counter() - start


def median_times(m: Materials, pages: int) -> dict[str, float]:
    """Median seconds per implementation, alternating which goes first so neither always runs warm."""
    samples: dict[str, list[float]] = {name: [] for name in PIPELINES}
    for run in PIPELINES.values():
        run(m, pages)  # one discarded run per size: the first run at a new size was slower for both
    for rep in range(REPEATS[pages]):
        order = list(PIPELINES) if rep % 2 == 0 else list(reversed(PIPELINES))
        for name in order:
            samples[name].append(time_once(PIPELINES[name], m, pages))
    return {name: statistics.median(values) for name, values in samples.items()}


def memory_kib(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of this process. Not ru_maxrss: after fork + exec
    it can still report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")


def reset_peak() -> None:
    """Make VmHWM start again from the current resident size (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # then the peak also covers the warm-up, which is smaller than any measured run


def peak_in_child(workdir: Path, name: str, pages: int, warm: bool) -> float:
    """Peak resident memory (MiB) one document costs, in a fresh process, above its resting size."""
    args = [sys.executable, __file__, "--peak", name, str(pages), "--workdir", str(workdir)]
    result = subprocess.run(args + ([] if warm else ["--cold"]), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the memory child for {name} at {pages} pages failed:\n{result.stderr}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["peak_mib"])


def child_peak(workdir: Path, name: str, pages: int, warm: bool) -> None:
    """In the child: load inputs, optionally warm up on one page, then measure one run."""
    m = load_materials(workdir, sizes=(1, pages))
    run = PIPELINES[name]
    if warm:
        run(m, 1)  # lazy imports, fonts, caches: what a long-lived worker has paid already
    gc.collect()
    reset_peak()
    baseline = memory_kib("VmRSS")
    run(m, pages)
    peak = memory_kib("VmHWM") - baseline
    print(json.dumps({"peak_mib": round(peak / 1024, 2), "baseline_mib": round(baseline / 1024, 2)}))


def check_outputs(m: Materials, pages: int) -> str:
    """Both outputs carry one intact, timestamped signature and the same number of pages."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    facts = []
    for name, run in PIPELINES.items():
        signed = run(m, pages)
        reader = PdfFileReader(io.BytesIO(signed))
        status = validate_pdf_signature(reader.embedded_signatures[0], ValidationContext(trust_roots=[m.root]))
        stamp_ok = status.timestamp_validity is not None and status.timestamp_validity.valid
        facts.append(f"{name}: {int(reader.root['/Pages']['/Count'])} pages, {len(signed) / 1024:.0f} KiB, "
                     f"valid={status.bottom_line}, timestamp_valid={stamp_ok}")
    return "; ".join(facts)


def profile(workdir: Path, pages: int, limit: int) -> None:
    """cProfile one SealFlow run and one floor run (after a warm-up), top functions by cumulative time."""
    m = load_materials(workdir, sizes=(pages,))
    for name, run in PIPELINES.items():
        run(m, pages)
        profiler = cProfile.Profile()
        profiler.runcall(run, m, pages)
        print(f"\n=== {name}, {pages} pages: SealFlow and bench functions by cumulative time ===")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"app/pdf/|bench/", limit)
        print(f"=== {name}, {pages} pages: everything by own time ===")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(limit // 2)


def report(workdir: Path, sizes: tuple[int, ...]) -> None:
    m = load_materials(workdir, sizes=tuple(sorted({1, *sizes})))
    for run in PIPELINES.values():
        run(m, 1)  # warm both up: first-use costs are not per-document costs
    print(f"floor signature appearance: {FLOOR_APPEARANCE}")
    print(f"check at {sizes[min(1, len(sizes) - 1)]} pages: {check_outputs(m, sizes[min(1, len(sizes) - 1)])}")
    print("times: median wall time in this process (warm), reps " +
          ", ".join(f"{p}p×{REPEATS[p]}" for p in sizes))
    print("memory: peak RSS above the resting size, fresh process per row; warm = after a 1-page warm-up run, "
          "cold = first document after imports")
    header = (f"{'pages':>5} {'sealflow_ms':>11} {'floor_ms':>9} {'ratio':>6} {'sealflow_peak_mib':>17} "
              f"{'floor_peak_mib':>14} {'mem_ratio':>9} {'sealflow_cold_mib':>17} {'floor_cold_mib':>14} "
              f"{'cold_ratio':>10}")
    print(header)
    ratios: dict[int, float] = {}
    for pages in sizes:
        times = median_times(m, pages)
        ratios[pages] = times["sealflow"] / times["floor"]
        warm = {name: peak_in_child(workdir, name, pages, warm=True) for name in PIPELINES}
        cold = {name: peak_in_child(workdir, name, pages, warm=False) for name in PIPELINES}
        print(f"{pages:>5} {times['sealflow'] * 1000:>11.1f} {times['floor'] * 1000:>9.1f} {ratios[pages]:>6.2f} "
              f"{warm['sealflow']:>17.1f} {warm['floor']:>14.1f} {_ratio(warm):>9} "
              f"{cold['sealflow']:>17.1f} {cold['floor']:>14.1f} {_ratio(cold):>10}", flush=True)
    if 10 in ratios:
        print(f"ratio_to_floor={ratios[10]:.2f}")


def _ratio(peaks: dict[str, float]) -> str:
    return f"{peaks['sealflow'] / peaks['floor']:.2f}" if peaks["floor"] > 0.5 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: tuple(int(n) for n in s.split(",")), default=SIZES)
    parser.add_argument("--profile", type=int, metavar="PAGES", help="cProfile both pipelines at this size")
    parser.add_argument("--limit", type=int, default=40, help="rows of profile output")
    parser.add_argument("--peak", nargs=2, metavar=("IMPL", "PAGES"), help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="server for the services' throwaway database (SQLite when it is unreachable)")
    parser.add_argument("--services-only", action="store_true", help="skip the stamp + sign table by page count")
    args = parser.parse_args()
    if args.peak:
        child_peak(args.workdir, args.peak[0], int(args.peak[1]), warm=not args.cold)
        return
    with tempfile.TemporaryDirectory(prefix="sealflow-bench-") as tmp:
        workdir = Path(tmp)
        write_inputs(workdir)
        if args.profile:
            profile(workdir, args.profile, args.limit)
            return
        if not args.services_only:
            report(workdir, args.sizes)
        services(workdir, args.postgres)


def services(workdir: Path, postgres: str) -> None:
    """The sealing job, verify_document and page-by-page + riding against their floors (bench/pdf_service.py)."""
    from bench.pdf_service import measure, print_table
    from bench.workflow import sqlite_uri, throwaway_database

    with throwaway_database(postgres) as uri:
        database = "PostgreSQL" if uri else "SQLite"
        instance = workdir / "instance"
        instance.mkdir()
        figures = measure(instance, uri or sqlite_uri(instance), text_document)
    ratios = print_table(figures, database)
    for name, value in ratios.items():
        print(f"{name}={value:.2f}")


if __name__ == "__main__":
    main()
