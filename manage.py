#!/usr/bin/env python3
"""SealFlow's two commands, runnable with nothing but Python 3.11+:

    python3 manage.py serve   set everything up, then run the web server, a worker and the clock with demo data
    python3 manage.py test    set everything up, then run the whole test suite (extra args go to pytest)
    python3 manage.py lint    ruff and mypy (CI runs it too)

Setting up means: a virtual environment in .venv with the pinned dependencies, the front-end bundles (npm packages
from package-lock.json bundled by esbuild into app/web/static/dist/), the compiled translations, the database
migrated; for `test` also the independent PDF verifiers and Chromium.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
# Debian packages the tests use: PDF verifiers (poppler, MuPDF), NSS tools for a trust store,
# the CJK font for seal text, and Chromium for the browser tests.
TEST_SYSTEM_PACKAGES = {
    "pdfsig": "poppler-utils",
    "mutool": "mupdf-tools",
    "certutil": "libnss3-tools",
    "chromium": "chromium",
    "softhsm2-util": "softhsm2",  # a PKCS#11 token for the seal-key tests
    "/usr/lib/softhsm/libsofthsm2.so": "softhsm2",
    "zbarimg": "zbar-tools",
    "qpdf": "qpdf",  # reads the approval evidence back, as a relying party would
    "/usr/sbin/slapd": "slapd",  # a real OpenLDAP server for the directory login and sync tests
    "ldapadd": "ldap-utils",
}
FONT_PACKAGE = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei")
# Node.js and npm install and bundle the browser parts (bpmn.io's modeler and editors) from package-lock.json.
FRONT_END_PACKAGES = {"node": "nodejs", "npm": "npm"}
ASSETS = ROOT / "app" / "web" / "assets"
DIST = ROOT / "app" / "web" / "static" / "dist"


def say(message: str) -> None:
    print(f"[sealflow] {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env=env)


def ensure_venv(requirements: str) -> None:
    """Create .venv and install the pinned requirements, skipped when nothing changed."""
    if sys.version_info < (3, 11):
        sys.exit("SealFlow needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        say("creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    req_files = [ROOT / "requirements.txt", ROOT / requirements]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in req_files)).hexdigest()
    stamp = VENV / f".installed-{requirements}"
    if not stamp.exists() or stamp.read_text() != digest:
        say(f"installing {requirements}")
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(BIN / "python", "-m", "pip", "install", "--quiet", "-r", ROOT / requirements)
        stamp.write_text(digest)


def ensure_system_packages(wanted: dict[str, str]) -> None:
    """Install missing Debian packages (as root, with apt-get); otherwise say what is missing."""
    missing = sorted({pkg for tool, pkg in wanted.items() if not shutil.which(tool) and not Path(tool).exists()})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say(f"please install these packages first: {' '.join(missing)}")
        sys.exit(1)
    say(f"installing {' '.join(missing)} with apt-get")
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=quiet)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=quiet)


def _digest(*paths: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def build_front_end() -> None:
    """Install the npm packages package-lock.json pins (`npm ci`) and bundle them with SealFlow's scripts into
    app/web/static/dist/ (esbuild); each step is skipped when its inputs have not changed."""
    ensure_system_packages(FRONT_END_PACKAGES)
    installed = ROOT / "node_modules" / ".sealflow-installed"
    lock = _digest(ROOT / "package.json", ROOT / "package-lock.json")
    if not installed.exists() or installed.read_text() != lock:
        say("installing the front-end packages (npm ci)")
        run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
        installed.write_text(lock)
    built = DIST / ".sealflow-built"
    sources = lock + _digest(*sorted(p for p in ASSETS.rglob("*") if p.is_file()))
    if not built.exists() or built.read_text() != sources:
        say("bundling the front end (esbuild)")
        run("node", ASSETS / "build.mjs")
        built.write_text(sources)


def compile_translations() -> None:
    run(BIN / "pybabel", "-q", "compile", "-d", ROOT / "app" / "translations")


def flask(*args: str) -> None:
    run(BIN / "flask", "--app", "wsgi", *args)


def serve() -> None:
    ensure_venv("requirements.txt")
    ensure_system_packages({FONT_PACKAGE[0]: FONT_PACKAGE[1]})
    build_front_end()
    compile_translations()
    flask("db", "upgrade")
    flask("seed-demo")
    port = os.environ.get("SEALFLOW_PORT", "5000")
    processes: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    if not os.environ.get("REDIS_URL"):
        # One process owns the embedded Redis and stops it after the web server, worker and clock are gone.
        redis = subprocess.Popen([BIN / "flask", "--app", "wsgi", "embedded-redis"], cwd=ROOT,
                                 stderr=subprocess.PIPE, text=True)
        for line in redis.stderr:  # type: ignore[union-attr]
            if "embedded Redis is up" in line:
                break
            sys.stderr.write(line)
        processes.append(redis)
    worker = subprocess.Popen([BIN / "flask", "--app", "wsgi", "worker"], cwd=ROOT)
    clock = subprocess.Popen([BIN / "flask", "--app", "wsgi", "clock"], cwd=ROOT)
    web = subprocess.Popen(
        [BIN / "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "wsgi:app"],
        cwd=ROOT,
    )
    processes[:0] = [web, worker, clock]
    time.sleep(1)
    say(f"SealFlow is running at http://127.0.0.1:{port}/  (log in with a demo login above; Ctrl-C stops it)")
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        for process in processes:  # web, worker and clock first, the embedded Redis last
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def test(pytest_args: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    ensure_system_packages({**TEST_SYSTEM_PACKAGES, FONT_PACKAGE[0]: FONT_PACKAGE[1]})
    build_front_end()
    compile_translations()
    # One test process per core (pytest-xdist; each gets its own databases, see tests/conftest.py), unless the
    # caller chose (-n 0 runs them in this one process). Exit code 5 (no tests collected) is passed on, and so fails
    # like any other error.
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses", "--dist")) for a in pytest_args)
    parallel = [] if chosen else ["-n", "auto", "--dist", "worksteal"]
    return subprocess.run([BIN / "python", "-m", "pytest", *parallel, *pytest_args], cwd=ROOT).returncode


def lint() -> int:
    ensure_venv("requirements-dev.txt")
    ruff = subprocess.run([BIN / "ruff", "check", "."], cwd=ROOT).returncode
    mypy = subprocess.run([BIN / "mypy"], cwd=ROOT).returncode  # files and settings: mypy.ini
    return ruff or mypy


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve":
        serve()
    elif command == "test":
        sys.exit(test(sys.argv[2:]))
    elif command == "lint":
        sys.exit(lint())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
