"""Talking to the directory with ldap3: SealFlow's own bind for searches, a person's bind to check a password."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPCommunicationError,
    LDAPException,
    LDAPSSLConfigurationError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars

from app.directory.errors import DirectoryError, DirectoryUnavailableError
from app.directory.names import departments_in_dn, normalize_dn

_GROUP_MEMBERS = ("member", "uniqueMember", "memberUid")
_PAGE = 500


@dataclass(frozen=True)
class DirectorySpec:
    """Where the directory is and how SealFlow reads people and groups from it."""

    url: str
    start_tls: bool
    ca_file: str  # empty: the system's trusted roots
    timeout: int  # seconds to connect, and to wait for each answer
    bind_dn: str  # empty: search anonymously
    bind_password: str
    user_base: str
    user_filter: str
    username_attribute: str
    name_attributes: tuple[str, ...]
    department_attribute: str  # empty: the `ou`s of the person's DN
    group_base: str  # empty: groups are not read
    group_filter: str


@dataclass(frozen=True)
class Person:
    """A person as the directory describes them."""

    dn: str
    username: str
    display_name: str
    departments: tuple[str, ...]  # their department first, then the one above it, and so on
    groups: frozenset[str]  # every group they are in, by normalized DN and by its name (cn, case folded)


def _server(spec: DirectorySpec) -> Server:
    # ldaps:// and StartTLS check the server's certificate and host name; ldap3 checks neither unless told.
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=spec.ca_file or None)
    return Server(spec.url, get_info=NONE, tls=tls, connect_timeout=spec.timeout)


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """ldap3's exceptions become the package's: unreachable, timed out or untrusted, or anything else."""
    try:
        yield
    except (LDAPCommunicationError, LDAPStartTLSError, LDAPCertificateError, LDAPSSLConfigurationError,
            OSError) as exc:
        raise DirectoryUnavailableError(f"{what}: {exc}") from exc
    except LDAPException as exc:
        raise DirectoryError(f"{what}: {exc}") from exc


def _bound(spec: DirectorySpec, dn: str | None, password: str | None) -> tuple[Connection, bool]:
    """A connection (encrypted when asked) and whether the simple bind as `dn` succeeded (anonymous when None)."""
    connection = Connection(_server(spec), user=dn, password=password, read_only=True, auto_referrals=False,
                            raise_exceptions=False, receive_timeout=spec.timeout)
    connection.open()
    if spec.start_tls and not connection.start_tls():
        raise DirectoryUnavailableError(f"StartTLS was refused: {connection.result.get('description')}")
    return connection, bool(connection.bind())


@contextmanager
def _service_connection(spec: DirectorySpec) -> Iterator[Connection]:
    """SealFlow's own connection for searches: its bind DN, or anonymous when none is set."""
    with _errors(f"cannot search the directory at {spec.url}"):
        connection, ok = _bound(spec, spec.bind_dn or None, spec.bind_password or None)
        try:
            if not ok:
                raise DirectoryError(f"the directory refused SealFlow's bind as {spec.bind_dn or 'anonymous'}: "
                                     f"{connection.result.get('description')}")
            yield connection
        finally:
            connection.unbind()


def check_password(spec: DirectorySpec, dn: str, password: str) -> bool:
    """Whether the directory accepts this password for this DN (a simple bind as the person). An empty password is
    refused without asking: LDAP would take it as an anonymous bind, which proves nothing."""
    if not dn or not password:
        return False
    with _errors(f"cannot check a password at {spec.url}"):
        connection, ok = _bound(spec, dn, password)
        connection.unbind()
    return ok


def _search(connection: Connection, base: str, search_filter: str, attributes: list[str]) -> list[dict[str, Any]]:
    """Every entry found (paged, so that the server's size limit does not cut the list); DirectoryError unless the
    search succeeded."""
    found = connection.extend.standard.paged_search(base, search_filter, SUBTREE, attributes=attributes,
                                                    paged_size=_PAGE, generator=False)
    result = connection.result or {}
    if result.get("result", 0) != 0:
        raise DirectoryError(f"searching {base} for {search_filter} failed: {result.get('description')} "
                             f"{result.get('message') or ''}".strip())
    return [entry for entry in found if entry.get("type") == "searchResEntry"]


def _values(entry: dict[str, Any], attribute: str) -> list[str]:
    raw = entry.get("raw_attributes", {}).get(attribute) or []
    return [value.decode("utf-8", errors="replace").strip() for value in raw]


def _person(spec: DirectorySpec, entry: dict[str, Any], groups: frozenset[str]) -> Person | None:
    usernames = _values(entry, spec.username_attribute)
    if not usernames or not usernames[0]:
        return None
    name = next((v for a in spec.name_attributes for v in _values(entry, a) if v), usernames[0])
    if spec.department_attribute:
        departments = tuple(_values(entry, spec.department_attribute)[:1])
    else:
        departments = departments_in_dn(entry["dn"], spec.user_base)
    return Person(entry["dn"], usernames[0], name, departments, groups)


def _person_attributes(spec: DirectorySpec) -> list[str]:
    wanted = [spec.username_attribute, *spec.name_attributes]
    return wanted + [spec.department_attribute] if spec.department_attribute else wanted


def _group_names(entry: dict[str, Any]) -> set[str]:
    return {normalize_dn(entry["dn"])} | {name.casefold() for name in _values(entry, "cn")}


def find_person(spec: DirectorySpec, username: str) -> Person | None:
    """The one person whose username attribute is `username` (matched as the directory matches it, so the result's
    username may differ in case); None when nobody or more than one person has it. The name is escaped: `*` or
    `x)(|(uid=*` are looked for literally."""
    if not username:
        return None
    value = escape_filter_chars(username)
    search_filter = f"(&{spec.user_filter}({spec.username_attribute}={value}))"
    with _service_connection(spec) as connection:
        entries = _search(connection, spec.user_base, search_filter, _person_attributes(spec))
        if len(entries) != 1:
            return None
        person = _person(spec, entries[0], frozenset())
        if person is None or not spec.group_base:
            return person
        dn, uid = escape_filter_chars(person.dn), escape_filter_chars(person.username)
        group_filter = f"(&{spec.group_filter}(|(member={dn})(uniqueMember={dn})(memberUid={uid})))"
        groups = _search(connection, spec.group_base, group_filter, ["cn"])
    return Person(person.dn, person.username, person.display_name, person.departments,
                  frozenset(name for entry in groups for name in _group_names(entry)))


def list_people(spec: DirectorySpec) -> list[Person]:
    """Everyone under the user base matching the user filter, with their groups; entries without a username are
    left out."""
    with _service_connection(spec) as connection:
        entries = _search(connection, spec.user_base, spec.user_filter, _person_attributes(spec))
        groups = _search(connection, spec.group_base, spec.group_filter, ["cn", *_GROUP_MEMBERS]) \
            if spec.group_base else []
    by_member: dict[str, set[str]] = {}
    for group in groups:
        names = _group_names(group)
        for member in _values(group, "member") + _values(group, "uniqueMember"):
            by_member.setdefault(_member_key(member), set()).update(names)
        for uid in _values(group, "memberUid"):
            by_member.setdefault(f"uid:{uid.casefold()}", set()).update(names)
    people = []
    for entry in entries:
        person = _person(spec, entry, frozenset())
        if person is not None:
            names = by_member.get(_member_key(person.dn), set()) | by_member.get(f"uid:{person.username.casefold()}",
                                                                                  set())
            people.append(Person(person.dn, person.username, person.display_name, person.departments,
                                 frozenset(names)))
    return people


def _member_key(dn: str) -> str:
    try:
        return normalize_dn(dn)
    except DirectoryError:
        return dn.casefold()  # a member value that is no DN matches nobody's DN
