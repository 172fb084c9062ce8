"""app.pdf, app.pki and app.directory import each exported name from its module on first use
(app/lazy_imports.py): every name resolves to its module's object, whatever was imported before."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["app.pdf", "app.pki", "app.directory"])
def test_every_exported_name_resolves_to_its_modules_object(package):
    module = importlib.import_module(package)
    homes = module._homes
    assert sorted(homes) == sorted(module.__all__)
    for name, home in homes.items():
        assert getattr(module, name) is getattr(importlib.import_module(home, package), name)


def test_a_missing_name_is_an_attribute_error():
    import app.pdf

    with pytest.raises(AttributeError, match="no_such_name"):
        app.pdf.no_such_name  # noqa: B018


def test_a_function_named_like_its_module_stays_the_function_when_the_module_is_imported_first():
    probe = ("import app.pdf.stamp, app.pdf.sign; from app.pdf import stamp; import app.pdf; "
             "assert callable(stamp) and stamp is app.pdf.stamp and stamp.__module__ == 'app.pdf.stamp', stamp; "
             "import sys; from app.pdf import PdfError; "
             "assert 'pikepdf' in sys.modules")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_error_class_loads_no_pdf_library():
    probe = ("import sys; from app.pdf import PdfError, SealImageError; from app.pki import PkiError; "
             "from app.directory import DirectoryError; "
             "assert not {'pikepdf', 'pyhanko', 'reportlab', 'ldap3'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
