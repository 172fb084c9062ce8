import hashlib

from sqlalchemy import func, select

from app.extensions import db
from app.models import Blob
from app.services import documents


def test_content_is_stored_once_however_often_it_comes(app):
    digest = documents.store_blob(b"%PDF-1.7 the same content")
    assert digest == hashlib.sha256(b"%PDF-1.7 the same content").hexdigest()
    assert documents.store_blob(b"%PDF-1.7 the same content") == digest
    db.session.commit()
    assert documents.store_blob(b"%PDF-1.7 the same content") == digest  # stored by an earlier transaction
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Blob)).scalar_one() == 1
    stored = db.session.execute(select(Blob.content, Blob.size).where(Blob.sha256 == digest)).one()
    assert (bytes(stored.content), stored.size) == (b"%PDF-1.7 the same content", 25)
