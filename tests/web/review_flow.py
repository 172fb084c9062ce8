"""The web tests' own approval flow (tests/web/data/review_flow.bpmn), deployed as the newest version of any
process id, so that page tests do not depend on the shape of the shipped diagrams."""

from pathlib import Path

from app.extensions import db
from app.models.audit import Actor
from app.services import flows

DIAGRAM = Path(__file__).resolve().parent / "data" / "review_flow.bpmn"


def deploy_review_flow(process_id: str, directory: Path) -> None:
    """Deploy the review flow under this process id (it becomes the version new applications run)."""
    path = directory / f"{process_id}.bpmn"
    path.write_text(DIAGRAM.read_text().replace("PROCESS_ID", process_id))
    definition, _ = flows.deploy_file(path, Actor.system("test"))
    db.session.commit()
    assert definition.process_id == process_id
