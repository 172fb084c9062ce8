"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from app.models.application import ApplicationStatus, SealApplication
from app.models.audit import AuditAnchor, AuditEvent
from app.models.authorization import AuthorizationUse, SignatureAuthorization
from app.models.deployment import DeploymentKind, DeploymentRequest, DeploymentStatus
from app.models.document import Blob, Document, DocumentKind
from app.models.job import Job, JobStatus
from app.models.pki import CertificateAuthority
from app.models.policy import PolicyVersion
from app.models.seal import FormerCertificate, RevocationReason, Seal, SealImage, SealKind, SealStatus
from app.models.user import Department, Role, RoleName, Substitution, User
from app.models.workflow import (
    REQUESTER_DECISIONS,
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    ProcessTimer,
    TaskCandidate,
    TaskState,
    current_round,
)

__all__ = [
    "REQUESTER_DECISIONS",
    "ApplicationStatus",
    "AuditAnchor",
    "AuditEvent",
    "AuthorizationUse",
    "Blob",
    "CertificateAuthority",
    "Department",
    "DeploymentKind",
    "DeploymentRequest",
    "DeploymentStatus",
    "Document",
    "FormerCertificate",
    "DocumentKind",
    "HumanTask",
    "InstanceStatus",
    "Job",
    "JobStatus",
    "PolicyVersion",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessTimer",
    "RevocationReason",
    "Role",
    "RoleName",
    "SealApplication",
    "Seal",
    "SealImage",
    "SignatureAuthorization",
    "SealKind",
    "SealStatus",
    "Substitution",
    "TaskCandidate",
    "TaskState",
    "User",
    "current_round",
]
