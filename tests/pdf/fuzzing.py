"""The fuzz round: each mutant goes through inspection, keyword search, stamping, signing (stamped, and as
`pdf sign` takes an unstamped file) and verification, in worker processes with a time and memory bound.

Every step must either refuse the file with an app.pdf / app.pki error whose message holds no Python repr, or
write a PDF that `qpdf --check` accepts. Anything else (another exception, a repr, a broken output, a hang, a
memory blow-up) is a failure, reported with the mutant's name.

`python -m tests.pdf.fuzzing worker` is the worker: file paths in on stdin, one JSON result per line out.
"""

from __future__ import annotations

import json
import re
import resource
import select
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.pdf.mutants import Mutant
from tests.pdf.verifiers import qpdf_check

ROOT = Path(__file__).resolve().parent.parent.parent
REPR = re.compile(r"object at 0x|<_io\.|Traceback")
WORKER_MEMORY = 3 * 2**30  # address space of a worker: a decompression bomb that slips through fails loudly


@dataclass
class Round:
    """What a fuzz round found: outcome counts overall and per category, and every failure in full."""

    outcomes: Counter[str] = field(default_factory=Counter)
    by_category: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    slowest: tuple[float, str] = (0.0, "")

    def add(self, mutant: Mutant, result: dict[str, Any]) -> None:
        outcome = result["outcome"]
        self.outcomes[outcome] += 1
        self.by_category.setdefault(mutant.category, Counter())[outcome] += 1
        if outcome.startswith("FAIL"):
            self.failures.append(f"{mutant.name}: {outcome}: {result.get('detail', '')}")
        for refusal in result.get("refusals", []):
            self.messages[re.sub(r"\d+", "N", refusal)[:150]] += 1
        if result.get("seconds", 0.0) > self.slowest[0]:
            self.slowest = (result["seconds"], mutant.name)

    def summary(self) -> str:
        lines = [f"{sum(self.outcomes.values())} mutants in {self.seconds:.1f} s "
                 f"(slowest {self.slowest[0]:.2f} s: {self.slowest[1]})"]
        lines += [f"  {count:5d}  {outcome}" for outcome, count in self.outcomes.most_common()]
        for category, counts in sorted(self.by_category.items()):
            lines.append(f"  {category}: " + ", ".join(f"{o} {n}" for o, n in counts.most_common()))
        lines.append("refusals, most frequent first:")
        lines += [f"  {count:5d}  {message}" for message, count in self.messages.most_common(40)]
        return "\n".join(lines)


# The worker -------------------------------------------------------------------------------------------------------

class _Failure(Exception):
    """A step misbehaved: the round reports it as a failure."""


class _Kit:
    """What every mutant is sealed with: a seal image, a CA and a seal key, made once per worker."""

    def __init__(self) -> None:
        from app.pdf import SealImageSpec, SigningIdentity, appearance_aspect, make_signer, render_seal_pdf
        from app.pki.ca import create_root_ca, issue_seal_certificate

        self.seal = render_seal_pdf(SealImageSpec("FUZZ ORG", "CONTRACT SEAL", "1234567890"))
        self.aspect = appearance_aspect(self.seal)
        self.ca = create_root_ca("Fuzz Org")
        issued = issue_seal_certificate(self.ca, "Contract Seal", "Fuzz Org", "rsa2048")
        self.signer = make_signer(SigningIdentity(issued.key, issued.certificate, (self.ca.certificate,)))


def _qpdf_check(data: bytes, path: Path) -> None:
    path.write_bytes(data)
    sound, said = qpdf_check(path, warnings_ok=True)  # warnings: damage carried over from the mutant
    if not sound:
        raise _Failure(f"qpdf --check rejects the output: {said[-400:]}")


def _refused(exc: Exception) -> bool:
    """A clear refusal: one of our own error families, with a message and no Python repr in it."""
    from app.pdf import PdfError
    from app.pki import PkiError

    if not isinstance(exc, (PdfError, PkiError)):
        return False
    if not str(exc) or REPR.search(str(exc)):
        raise _Failure(f"{type(exc).__name__} with a repr or without a message: {exc}")
    return True


def _sign(kit: _Kit, data: bytes, field_name: str) -> bytes:
    """What `pdf sign` does (app/services/signing.sign_with_seal) without the database: check, place, sign."""
    from app.pdf import SignSpec, StampSpec, check_signable, place, sign_pdf

    check_signable(data)
    found = place(data, [(StampSpec(page=-1, x_mm=25, y_mm=30, size_mm=40), kit.aspect)])[0]
    spec = SignSpec(field_name, found.page_index, found.rect, reason="fuzz", appearance_pdf=kit.seal, certify=True)
    return sign_pdf(data, kit.signer, spec)


def _stamp(kit: _Kit, data: bytes, pages: int) -> bytes:
    from app.pdf import QrSpec, RidingSpec, StampPlan, StampSpec, WatermarkSpec, stamp

    plan = StampPlan(seal_pdf=kit.seal, seals=(StampSpec(page=1, size_mm=30),),
                     riding=RidingSpec(size_mm=30) if pages > 1 else None,
                     watermark=WatermarkSpec("CONFIDENTIAL · fuzz"), qr=QrSpec("https://seals.example.com/v/1"),
                     evidence={"format": "sealflow-evidence/1", "fuzz": True})
    return stamp(data, plan)


def _step(steps: list[str], name: str, call: Any) -> Any:
    """Run one step; a clear refusal is noted and returns None, anything else unexpected is a failure."""
    try:
        result = call()
    except _Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - the point of the round: nothing else may leave
        if _refused(exc):
            steps.append(f"{name} refused: {type(exc).__name__}: {exc}")
            return None
        raise _Failure(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}") from exc
    steps.append(f"{name} ok")
    return result


def _exercise(kit: _Kit, data: bytes, scratch: Path) -> tuple[str, list[str]]:
    from app.pdf import KeywordSpec, inspect_pdf, place, verify_pdf

    steps: list[str] = []
    info = _step(steps, "inspect", lambda: inspect_pdf(data))
    # A probe of the text search (pdfium): not finding the letter is fine, crashing is not.
    _step([], "keyword", lambda: place(data, [(KeywordSpec("e", size_mm=10, pages="1"), 1.0)]))
    stamped = _step(steps, "stamp", lambda: _stamp(kit, data, info.page_count if info else 1))
    if stamped is not None:
        _qpdf_check(stamped, scratch / "stamped.pdf")
        signed = _step(steps, "sign", lambda: _sign(kit, stamped, "Seal"))
        if signed is not None:
            _qpdf_check(signed, scratch / "signed.pdf")
            report = _step(steps, "verify", lambda: verify_pdf(signed, [kit.ca.certificate]))
            if report is not None and report.verdict != "valid":
                raise _Failure(f"our own signature on the stamped file does not verify: {report.reason}")
    direct = _step(steps, "sign-unstamped", lambda: _sign(kit, data, "Seal"))
    if direct is not None:
        _qpdf_check(direct, scratch / "direct.pdf")
        _step(steps, "verify-unstamped", lambda: verify_pdf(direct, [kit.ca.certificate]))
    refusals = [s for s in steps if " refused: " in s]
    if info is not None and "sign ok" in steps:
        return "valid", refusals
    first = refusals[0].split(" refused: ")[0] if refusals else "nothing"
    return ("refused at " if info is None else "accepted, then refused at ") + first, refusals


def worker() -> None:
    """Read mutant paths from stdin; answer one JSON line each."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    kit = _Kit()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        path = Path(line.strip())
        scratch = path.with_suffix(".out")
        scratch.mkdir(exist_ok=True)
        started = time.monotonic()
        try:
            outcome, refusals = _exercise(kit, path.read_bytes(), scratch)
            result = {"outcome": outcome, "refusals": refusals}
        except _Failure as exc:
            result = {"outcome": "FAIL", "detail": str(exc)}
        except MemoryError:
            result = {"outcome": "FAIL: memory", "detail": f"more than {WORKER_MEMORY // 2**30} GiB"}
        result["seconds"] = round(time.monotonic() - started, 3)
        print(json.dumps(result), flush=True)


# The round --------------------------------------------------------------------------------------------------------

class _Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.pdf.fuzzing", "worker"], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.read(120.0)
        if ready is None or not ready.get("ready"):
            raise RuntimeError("the fuzz worker did not start")

    def read(self, timeout: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def send(self, path: Path) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        self.process.kill()  # only this worker, which this round started
        self.process.wait()


def run_round(batch: Iterable[Mutant], workdir: Path, workers: int = 2, timeout: float = 20.0) -> Round:
    """Put every mutant through the worker processes, at most `timeout` seconds each."""
    started = time.monotonic()
    found = Round()
    pool = [_Worker() for _ in range(workers)]
    busy: dict[int, tuple[Mutant, float]] = {}
    queue = list(batch)
    try:
        while queue or busy:
            for slot, worker_ in enumerate(pool):
                if slot not in busy and queue:
                    mutant = queue.pop(0)
                    path = workdir / f"m{len(queue)}-{slot}.pdf"
                    path.write_bytes(mutant.data)
                    worker_.send(path)
                    busy[slot] = (mutant, time.monotonic())
            _collect(pool, busy, found, timeout)
    finally:
        for worker_ in pool:
            worker_.stop()
    found.seconds = time.monotonic() - started
    return found


def _collect(pool: list[_Worker], busy: dict[int, tuple[Mutant, float]], found: Round, timeout: float) -> None:
    streams = {pool[slot].process.stdout: slot for slot in busy}
    ready, _, _ = select.select(list(streams), [], [], 0.5)
    for stream in ready:
        slot = streams[stream]
        mutant, _ = busy.pop(slot)
        result = pool[slot].read(0)
        if result is None:  # the worker died (a crash in C code, or killed by its memory limit)
            found.add(mutant, {"outcome": "FAIL: worker died", "detail": ""})
            pool[slot].stop()
            pool[slot] = _Worker()
        else:
            found.add(mutant, result)
    for slot, (mutant, since) in list(busy.items()):
        if time.monotonic() - since > timeout:
            busy.pop(slot)
            found.add(mutant, {"outcome": "FAIL: hang", "detail": f"more than {timeout} s"})
            pool[slot].stop()
            pool[slot] = _Worker()


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    worker()
