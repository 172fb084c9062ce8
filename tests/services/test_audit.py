from sqlalchemy import text

from app.extensions import db
from app.models.audit import Actor, record
from app.services.audit import verify_chain


def _three_events():
    actor = Actor(None, "tester", "10.0.0.1")
    return [record(actor, "thing.done", "thing", i, note=f"n{i}") for i in range(3)]


def test_chain_verifies(app):
    _three_events()
    db.session.commit()
    assert verify_chain() == []


def test_edit_is_detected(app):
    events = _three_events()
    db.session.commit()
    db.session.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    db.session.expire_all()
    assert verify_chain() == [f"event {events[1].id}: content changed after it was written"]


def test_deletion_is_detected(app):
    events = _three_events()
    db.session.commit()
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
    db.session.commit()
    db.session.expire_all()
    assert verify_chain() == [f"event {events[2].id}: does not follow the previous event"]
