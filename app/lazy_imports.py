"""Packages whose names are imported from their modules on first use (PEP 562).

app.pdf, app.pki and app.directory export names from modules that load pikepdf, pyHanko, reportlab, pkcs11 and
ldap3. Importing one of their names (an error class, say) must not load the whole stack: a web worker starts
without it, and a request that stamps, signs or verifies loads what it uses (tests/test_wsgi.py checks it). The
type checker reads the packages' imports under `if TYPE_CHECKING:`; at run time `export_lazily` installs the
look-up.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping, Sequence


class _LazyPackage(types.ModuleType):
    """A package module that resolves its exported names on first use and keeps them."""

    _homes: dict[str, str]

    def __getattr__(self, name: str) -> object:
        home = self.__dict__.get("_homes", {}).get(name)
        if home is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, self.__name__), name)
        setattr(self, name, value)
        return value

    def __setattr__(self, name: str, value: object) -> None:
        # Importing a submodule binds it on its package by name; app.pdf.stamp (a module) defines stamp (a
        # function), and the package exports the function.
        home = self.__dict__.get("_homes", {}).get(name)
        if isinstance(value, types.ModuleType) and home is not None and value.__name__ == f"{self.__name__}{home}":
            value = getattr(value, name)
        super().__setattr__(name, value)


def export_lazily(package: str, modules: Mapping[str, Sequence[str]]) -> None:
    """Make `package` import each name from its module on first use; `modules` maps a module (relative to the
    package when it starts with a dot) to the names it exports."""
    module = sys.modules[package]
    module.__class__ = _LazyPackage
    module._homes = {name: home for home, names in modules.items() for name in names}  # type: ignore[attr-defined]
