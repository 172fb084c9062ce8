"""SealFlow's directory (LDAP) client: people and their groups read with SealFlow's own bind, and a person's
password checked by binding as them. It never stores or caches a password.

A library like app/pki: no Flask and no database; settings come in as a frozen DirectorySpec, people go out as
frozen Person records, and ldap3's exceptions leave as DirectoryError or DirectoryUnavailableError. Each name is
imported from its module on first use (app/lazy_imports.py): a site without a directory never loads ldap3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.lazy_imports import export_lazily

if TYPE_CHECKING:
    from app.directory.client import DirectorySpec, Person, check_password, find_person, list_people
    from app.directory.errors import DirectoryError, DirectoryUnavailableError
    from app.directory.names import departments_in_dn, normalize_dn

export_lazily(__name__, {
    ".client": ("DirectorySpec", "Person", "check_password", "find_person", "list_people"),
    ".errors": ("DirectoryError", "DirectoryUnavailableError"),
    ".names": ("departments_in_dn", "normalize_dn"),
})

__all__ = [
    "DirectoryError",
    "DirectorySpec",
    "DirectoryUnavailableError",
    "Person",
    "check_password",
    "departments_in_dn",
    "find_person",
    "list_people",
    "normalize_dn",
]
