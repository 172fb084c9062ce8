"""What a web worker loads when it starts: `import wsgi` (the app built, as gunicorn does) leaves the PDF, signing,
spreadsheet, directory and migration stacks for the requests and commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEFT_FOR_LATER = ("pikepdf", "pyhanko", "reportlab", "pypdfium2", "openpyxl", "ldap3", "alembic", "rq", "cryptography",
                  "asn1crypto")


def test_import_wsgi_leaves_the_pdf_and_signing_stack_unloaded(tmp_path):
    probe = "import json, sys, wsgi; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    env = {**os.environ, "SEALFLOW_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": ""}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "flask" in loaded and "app" in loaded  # the probe did build the app
    assert sorted(loaded & set(LEFT_FOR_LATER)) == []
