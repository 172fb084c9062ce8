"""Batch sealing: N approved applications sealed by W real RQ workers, against W plain processes running the same
stamp + sign loop (the floor).

Run by hand: `.venv/bin/python bench/batch.py [--applications 200] [--workers 2] [--pages 10] [--rounds 2]
[--postgres URL] [--redis URL]`.

SealFlow: a throwaway PostgreSQL database on the given server and the given Redis (a queue of the bench's own
name); applications for the contract seal on a real multi-page PDF with riding seal, watermark and QR code, filed
and approved through SealFlow's services, which queue their sealing jobs on RQ as the approvals commit. Then W
worker processes (app.jobs.worker.make_worker, as `flask worker --burst` runs them: RSA-2048 keys, B-T with
SealFlow's own TSA) work the queue off; each process has imported everything and built its app before the clock
starts, and decrypts its keys on its first job, as a freshly started worker does.

Floor: W processes each looping over its share of the same number of documents with app.pdf's stamp + place +
sign_pdf (the same document, plan, evidence and keys, decrypted and parsed once per process before the clock
starts), nothing else: bench/pdf_service.py's Core.

The applications are split into --rounds; in each round SealFlow seals its part and the floor its part, which goes
first alternating. Documents per second = documents / the sum of the rounds' times (from the start signal to the
last process's last document). The bench checks that every application was sealed exactly once.
The last line is `batch_sealing_ratio=<SealFlow documents/s / floor documents/s>`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: `app` lives in the checkout root; bench/ leaves sys.path, or bench/http.py would
# shadow the standard library's http.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT / "bench", ROOT)]

from sqlalchemy import func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import ApplicationStatus, Document, DocumentKind, Job, SealApplication  # noqa: E402
from bench.organisation import approve_applications, build_app, create_organisation  # noqa: E402
from bench.pdf_pipeline import text_document  # noqa: E402
from bench.pdf_service import (  # noqa: E402
    Core,
    CoreInputs,
    core_inputs,
    job_application,
    run_job_in_context,
    sealed_content,
)
from bench.workflow import throwaway_database  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _settings(queue: str) -> dict[str, Any]:
    return {"RQ_QUEUE": queue, "SEAL_KEY_ALGORITHM": "rsa2048"}


# ---------------------------------------------------------------------------------------------- processes

def rq_worker(instance: str, uri: str, redis_url: str, queue: str, start: Barrier, done: Any) -> None:
    """One RQ worker process: the app built, then (on the start signal) the queue worked off in burst mode."""
    from app.jobs.worker import make_worker

    app = build_app(Path(instance), uri, redis_url, **_settings(queue))
    with app.app_context():
        worker = make_worker(app)
    start.wait()
    worker.work(burst=True, logging_level="WARNING")
    done.put(time.time())


def floor_process(inputs: CoreInputs, documents: int, start: Barrier, done: Any) -> None:
    """One plain process: keys parsed, then (on the start signal) the stamp + sign loop."""
    core = Core(inputs)
    start.wait()
    for _ in range(documents):
        core.run()
    done.put(time.time())


def _timed(processes: list[multiprocessing.Process], start: Barrier, done: Any) -> float:
    """Seconds from the start signal to the last process's end of work."""
    for process in processes:
        process.start()
    start.wait()
    began = time.time()
    finished = [done.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a bench process ended with exit code {process.exitcode}")
    return max(finished) - began


def run_sealflow(context: Any, instance: Path, uri: str, redis_url: str, queue: str, workers: int) -> float:
    start, done = context.Barrier(workers + 1), context.Queue()
    processes = [context.Process(target=rq_worker, args=(str(instance), uri, redis_url, queue, start, done))
                 for _ in range(workers)]
    return _timed(processes, start, done)


def run_floor(context: Any, inputs: CoreInputs, documents: int, workers: int) -> float:
    start, done = context.Barrier(workers + 1), context.Queue()
    shares = [documents // workers + (1 if w < documents % workers else 0) for w in range(workers)]
    processes = [context.Process(target=floor_process, args=(inputs, share, start, done)) for share in shares]
    return _timed(processes, start, done)


# ------------------------------------------------------------------------------------------------ checking

def sealed_once(app: Any, expected: int) -> str:
    """Every approved application sealed, each exactly once; raises otherwise."""
    with app.app_context():
        sealed = db.session.execute(select(func.count()).select_from(SealApplication)
                                    .where(SealApplication.status == ApplicationStatus.SEALED)).scalar_one()
        per_application = db.session.execute(
            select(Document.application_id, func.count()).where(Document.kind == DocumentKind.SEALED)
            .group_by(Document.application_id)).all()
        twice = [application for application, count in per_application if count != 1]
        failed = db.session.execute(select(func.count()).select_from(Job).where(Job.error.is_not(None))).scalar_one()
    if sealed != expected or len(per_application) != expected or twice:
        raise RuntimeError(f"{sealed} of {expected} applications sealed ({len(per_application)} with a sealed "
                           f"document, sealed more than once: {twice})")
    return f"{sealed} applications sealed, each once; {failed} job attempts failed"


def clean_redis(app: Any, redis_url: str, queue: str) -> None:
    """Remove what this run left in Redis: its jobs and its queue's keys."""
    from redis import Redis

    connection = Redis.from_url(redis_url)
    with app.app_context():
        keys = list(db.session.execute(select(Job.key)).scalars())
    for key in keys:
        connection.delete(f"rq:job:{key}", f"rq:results:{key}")
    for pattern in (f"rq:*:{queue}", f"rq:queue:{queue}*", f"rq:*:{queue}:*"):
        for found in connection.scan_iter(pattern):
            connection.delete(found)


# ------------------------------------------------------------------------------------------------ report

def report(args: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    queue = f"sealflow-bench-batch-{os.getpid()}"
    content = text_document(args.pages)
    with tempfile.TemporaryDirectory(prefix="sealflow-batch-") as tmp, throwaway_database(args.postgres) as uri:
        if uri is None:
            raise SystemExit("bench/batch.py needs PostgreSQL (several processes write at once)")
        instance = Path(tmp)
        app = build_app(instance, uri, args.redis, **_settings(queue))
        try:
            with app.app_context():
                db.create_all()
                org = create_organisation()
                [first] = approve_applications(org, content, 1)
            run_job_in_context(app, first)  # one sealed document, whose evidence the floor's plan carries
            application_id = job_application(app, first)
            inputs = core_inputs(app, application_id, sealed_content(app, application_id))
            parts = [args.applications // args.rounds + (1 if r < args.applications % args.rounds else 0)
                     for r in range(args.rounds)]
            seconds = {"sealflow": 0.0, "floor": 0.0}
            for number, part in enumerate(parts):
                with app.app_context():
                    approve_applications(org, content, part)  # queued on RQ now; no worker runs yet
                order = ["sealflow", "floor"] if number % 2 == 0 else ["floor", "sealflow"]
                for side in order:
                    if side == "sealflow":
                        seconds[side] += run_sealflow(context, instance, uri, args.redis, queue, args.workers)
                    else:
                        seconds[side] += run_floor(context, inputs, part, args.workers)
            check = sealed_once(app, args.applications + 1)
            clean_redis(app, args.redis, queue)
            with app.app_context():
                db.engine.dispose()
        finally:
            from app.services.queue import shutdown_embedded

            shutdown_embedded(app)
    rates = {side: args.applications / spent for side, spent in seconds.items()}
    print(f"{args.applications} applications, {args.pages}-page PDF (riding seal, watermark, QR code), "
          f"{args.workers} processes a side, {args.rounds} rounds; PostgreSQL, Redis {args.redis}")
    print(f"check: {check}")
    print(f"{'side':<10} {'seconds':>8} {'documents/s':>12}  what")
    print(f"{'sealflow':<10} {seconds['sealflow']:>8.2f} {rates['sealflow']:>12.2f}  "
          f"{args.workers} RQ workers (app.jobs.worker.make_worker, burst) running app.jobs.runner.run_job")
    print(f"{'floor':<10} {seconds['floor']:>8.2f} {rates['floor']:>12.2f}  "
          f"{args.workers} processes looping app.pdf stamp + place + sign_pdf (bench/pdf_service.py Core)")
    print(f"batch_sealing_ratio={rates['sealflow'] / rates['floor']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=200, help="applications sealed by each side (N)")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers, and floor processes (W)")
    parser.add_argument("--pages", type=int, default=10, help="pages of the PDF")
    parser.add_argument("--rounds", type=int, default=2, help="the sides take turns this many times")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server for the throwaway database")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis for the queue (a queue of the bench's own)")
    report(parser.parse_args())


if __name__ == "__main__":
    main()
