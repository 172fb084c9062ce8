"""A real OpenLDAP server (slapd) for the directory tests, started once per test session in a temporary folder.

Its configuration (cn=config: an mdb database, the core, cosine, inetorgperson and nis schemas, TLS with a
throwaway CA) is generated and loaded with `slapadd -n0`; slapd runs as the current user on free ports, plain
LDAP with StartTLS and LDAPS. Each test gets the people below back as they were (`ldap` fixture), and may
change them through `DirectoryServer.add/delete/modify` as an administrator of the directory would. The
`ldap` fixture also points the app at it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from ldap3 import MODIFY_REPLACE, NONE, SUBTREE, Connection, Server

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
BASE = "dc=example,dc=org"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory-admin-secret"
SERVICE_DN = f"cn=sealflow,ou=services,{BASE}"
SERVICE_PASSWORD = "sealflow-service-secret"
# username: (DN below the base, display name or None, password)
PEOPLE_ENTRIES = {
    "hugo": (f"uid=hugo,ou=Head Office,{PEOPLE}", "Hugo Head", "hugo-pw-1"),
    "ann": (f"uid=ann,ou=Sales,ou=Head Office,{PEOPLE}", "Ann Lee", "ann-pw-1"),
    "bob": (f"uid=bob,ou=Sales,ou=Head Office,{PEOPLE}", None, "bob-pw-1"),
    "lina": (f"uid=lina,ou=法务部,{PEOPLE}", "李娜", "lina-pässwörd"),
    "o*brien": (f"uid=o\\2Abrien,ou=Sales,ou=Head Office,{PEOPLE}", "Pat O'Brien", "obrien-pw-1"),
    "emma": (f"uid=emma,ou=Sales,ou=Head Office,{PEOPLE}", "Emma from the directory", "emma-directory-pw"),
}
PASSWORDS = {username: entry[2] for username, entry in PEOPLE_ENTRIES.items()}
# The groups SEALFLOW_LDAP_ROLE_GROUPS maps in the tests: by name, by DN, and a POSIX group.
ROLE_GROUPS = (("sealflow-approvers", "approver"), (f"cn=Leaders,{GROUPS}", "leader"),
               ("seal-admins", "seal_admin"))


def _ssha(password: str) -> str:
    """An RFC 2307 {SSHA} hash, as directories store passwords."""
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def _ldif(dn: str, **attributes: str | list[str]) -> str:
    lines = [f"dn: {dn}"]
    for name, values in attributes.items():
        for value in [values] if isinstance(values, str) else values:
            # Base64 for anything LDIF cannot carry as is (non-ASCII, leading space or colon).
            if value.isascii() and not value.startswith((" ", ":", "<")):
                lines.append(f"{name}: {value}")
            else:
                lines.append(f"{name}:: {base64.b64encode(value.encode()).decode()}")
    return "\n".join(lines) + "\n\n"


def _people_ldif() -> str:
    """The directory's content: departments as ous, six people, three groups of three kinds, a service account."""
    out = _ldif(BASE, objectClass=["dcObject", "organization"], o="Example", dc="example")
    for dn, ou in ((PEOPLE, "people"), (GROUPS, "groups"), (f"ou=services,{BASE}", "services"),
                   (f"ou=Head Office,{PEOPLE}", "Head Office"), (f"ou=Sales,ou=Head Office,{PEOPLE}", "Sales"),
                   (f"ou=法务部,{PEOPLE}", "法务部")):
        out += _ldif(dn, objectClass="organizationalUnit", ou=ou)
    out += _ldif(SERVICE_DN, objectClass=["organizationalRole", "simpleSecurityObject"], cn="sealflow",
                 userPassword=_ssha(SERVICE_PASSWORD))
    for username, (dn, name, password) in PEOPLE_ENTRIES.items():
        attributes: dict[str, str | list[str]] = {
            "objectClass": ["inetOrgPerson", "organizationalPerson", "person"], "uid": username,
            "cn": name or username.title(), "sn": (name or username).split()[-1], "userPassword": _ssha(password)}
        if name:
            attributes["displayName"] = name
        out += _ldif(dn, **attributes)
    out += _ldif(f"cn=sealflow-approvers,{GROUPS}", objectClass="groupOfNames", cn="sealflow-approvers",
                 member=[PEOPLE_ENTRIES["hugo"][0], PEOPLE_ENTRIES["ann"][0]])
    out += _ldif(f"cn=Leaders,{GROUPS}", objectClass="groupOfUniqueNames", cn="Leaders",
                 uniqueMember=PEOPLE_ENTRIES["hugo"][0])
    out += _ldif(f"cn=seal-admins,{GROUPS}", objectClass="posixGroup", cn="seal-admins", gidNumber="5001",
                 memberUid="lina")
    return out


def _config_ldif(folder: Path, tls: Path) -> str:
    """cn=config: the modules, schemas, TLS files, and one mdb database for dc=example,dc=org."""
    schemas = "".join(f"include: file://{SCHEMAS / name}.ldif\n\n" for name in ("core", "cosine", "inetorgperson",
                                                                                 "nis"))
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {folder / 'slapd.pid'}
olcTLSCACertificateFile: {tls / 'ca.pem'}
olcTLSCertificateFile: {tls / 'server.pem'}
olcTLSCertificateKeyFile: {tls / 'server.key'}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULES}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE}
olcDbDirectory: {folder / 'data'}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PASSWORD}
olcDbMaxSize: 67108864
olcSizeLimit: size.soft=3 size.hard=3 size.prtotal=unlimited
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""


def _tls_files(folder: Path) -> None:
    """A throwaway CA and a certificate for 127.0.0.1 and localhost, signed by it."""
    folder.mkdir()
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Directory CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
              .add_extension(names, critical=False).sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


def free_port() -> int:
    """A TCP port nobody listens on (nobody did a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DirectoryServer:
    """A running slapd: its addresses, the CA that issued its certificate, and an administrator's connection."""

    url: str  # plain LDAP (StartTLS offered)
    ldaps_url: str
    ca_file: Path
    process: subprocess.Popen[bytes]

    def admin(self) -> Connection:
        """A connection bound as the directory's root DN."""
        return Connection(Server(self.url, get_info=NONE), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True,
                          raise_exceptions=True)

    def add(self, dn: str, object_classes: list[str], **attributes: str | list[str]) -> None:
        with self.admin() as connection:
            connection.add(dn, object_classes, attributes)

    def delete(self, dn: str) -> None:
        with self.admin() as connection:
            connection.delete(dn)

    def modify(self, dn: str, **attributes: str | list[str]) -> None:
        with self.admin() as connection:
            connection.modify(dn, {name: [(MODIFY_REPLACE, [value] if isinstance(value, str) else value)]
                                   for name, value in attributes.items()})

    def reset(self) -> None:
        """Everything back to _people_ldif: every entry below the base deleted, deepest first, then added again."""
        with self.admin() as connection:
            connection.search(BASE, "(objectClass=*)", SUBTREE, attributes=[])
            dns = [entry["dn"] for entry in connection.response if entry.get("type") == "searchResEntry"]
            for dn in sorted(dns, key=lambda d: d.count(","), reverse=True):
                connection.delete(dn)
        subprocess.run(["ldapadd", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD], check=True,
                       input=_people_ldif().encode(), capture_output=True)


def start_directory_server(folder: Path) -> DirectoryServer:
    """Generate a configuration in `folder`, load the people, start slapd on free ports and wait for it."""
    if not Path(SLAPD).exists() or shutil.which("ldapadd") is None:
        pytest.fail("slapd is missing: install the Debian packages slapd and ldap-utils (python3 manage.py test does)")
    _tls_files(folder / "tls")
    (folder / "config").mkdir()
    (folder / "data").mkdir()
    (folder / "config.ldif").write_text(_config_ldif(folder, folder / "tls"))
    (folder / "people.ldif").write_text(_people_ldif())
    subprocess.run([SLAPADD, "-n0", "-F", folder / "config", "-l", folder / "config.ldif"], check=True,
                   capture_output=True)
    subprocess.run([SLAPADD, "-n1", "-F", folder / "config", "-l", folder / "people.ldif"], check=True,
                   capture_output=True)
    port, secure_port = free_port(), free_port()
    url, ldaps_url = f"ldap://127.0.0.1:{port}", f"ldaps://127.0.0.1:{secure_port}"
    # -d 0: stay in the foreground (no fork), so that the process can be stopped by its id; nothing is logged.
    process = subprocess.Popen([SLAPD, "-d", "0", "-F", str(folder / "config"), "-h", f"{url}/ {ldaps_url}/"],
                               stdout=subprocess.DEVNULL, stderr=(folder / "slapd.log").open("wb"))
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"slapd did not start: {(folder / 'slapd.log').read_text(errors='replace')}")
            time.sleep(0.05)
    return DirectoryServer(url, ldaps_url, folder / "tls" / "ca.pem", process)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DirectoryServer]:
    """One slapd for the whole test session, stopped at its end."""
    server = start_directory_server(tmp_path_factory.mktemp("slapd"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def ldap(app: Flask, slapd: DirectoryServer) -> DirectoryServer:
    """The directory as _people_ldif describes it, and the app configured to use it (SealFlow's service account,
    people below ou=people, groups below ou=groups mapped to roles)."""
    slapd.reset()
    use_directory(app, slapd.url)
    return slapd


def use_directory(app: Flask, url: str, **settings: object) -> None:
    """Point the app at a directory with the test settings; `settings` override them (keys without LDAP_)."""
    app.config.update(LDAP_URL=url, LDAP_START_TLS=False, LDAP_CA_FILE="", LDAP_TIMEOUT=5, LDAP_BIND_DN=SERVICE_DN,
                      LDAP_BIND_PASSWORD=SERVICE_PASSWORD, LDAP_USER_BASE=PEOPLE,
                      LDAP_USER_FILTER="(objectClass=inetOrgPerson)", LDAP_USERNAME_ATTRIBUTE="uid",
                      LDAP_NAME_ATTRIBUTES=("displayName", "cn"), LDAP_DEPARTMENT_ATTRIBUTE="",
                      LDAP_GROUP_BASE=GROUPS,
                      LDAP_GROUP_FILTER="(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
                                        "(objectClass=posixGroup))",
                      LDAP_ROLE_GROUPS=ROLE_GROUPS, LDAP_DEFAULT_ROLES=("employee",))
    app.config.update({f"LDAP_{key.upper()}": value for key, value in settings.items()})
