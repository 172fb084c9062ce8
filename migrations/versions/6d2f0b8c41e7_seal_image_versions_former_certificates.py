"""Seal image versions (each seal's image so far becomes its version 1), the certificates a renewal replaces,
sealed documents naming the image version they were sealed with, and an index for an object's audit history

Revision ID: 6d2f0b8c41e7
Revises: f7c2a9e8d1b3
Create Date: 2026-12-02 09:00:00.000000

"""
import hashlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '6d2f0b8c41e7'
down_revision = 'f7c2a9e8d1b3'
branch_labels = None
depends_on = None

_seals = sa.table('seals', sa.column('id', sa.Integer), sa.column('image_pdf', sa.LargeBinary),
                  sa.column('image_svg', sa.Text), sa.column('image_version', sa.Integer),
                  sa.column('created_at', sa.DateTime))
_images = sa.table('seal_images', sa.column('id', sa.Integer), sa.column('seal_id', sa.Integer),
                   sa.column('version', sa.Integer), sa.column('image_pdf', sa.LargeBinary),
                   sa.column('image_svg', sa.Text), sa.column('sha256', sa.String), sa.column('source', sa.String),
                   sa.column('created_at', sa.DateTime))
_documents = sa.table('documents', sa.column('id', sa.Integer), sa.column('seal_image_id', sa.Integer))
_events = sa.table('audit_events', sa.column('action', sa.String), sa.column('details', sa.JSON))


def upgrade():
    op.create_table('seal_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('image_pdf', sa.LargeBinary(), nullable=False),
    sa.Column('image_svg', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_seal_images_created_by_id_users')),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_seal_images_seal_id_seals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seal_images')),
    sa.UniqueConstraint('seal_id', 'version', name='uq_seal_images_seal_id_version')
    )
    with op.batch_alter_table('seal_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seal_images_seal_id'), ['seal_id'], unique=False)

    op.create_table('seal_former_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=False),
    sa.Column('replaced_because', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_seal_former_certificates_seal_id_seals'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seal_former_certificates'))
    )
    with op.batch_alter_table('seal_former_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seal_former_certificates_seal_id'), ['seal_id'], unique=False)

    # Each seal's image so far is its version 1, dated when the seal was created.
    bind = op.get_bind()
    for seal_id, image_pdf, image_svg, created_at in bind.execute(
            sa.select(_seals.c.id, _seals.c.image_pdf, _seals.c.image_svg, _seals.c.created_at)).all():
        bind.execute(_images.insert().values(
            seal_id=seal_id, version=1, image_pdf=image_pdf, image_svg=image_svg or '',
            sha256=hashlib.sha256(image_pdf).hexdigest(), source='drawn' if image_svg else 'uploaded',
            created_at=created_at))
    version_one = dict(bind.execute(sa.select(_images.c.seal_id, _images.c.id)).all())

    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_column('image_svg')
        batch_op.drop_column('image_pdf')

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal_image_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_seal_image_id'), ['seal_image_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_documents_seal_image_id_seal_images'), 'seal_images',
                                    ['seal_image_id'], ['id'])

    # Documents sealed so far were sealed with their seal's only image, version 1: the audit log names the seal
    # each sealed version was signed with (a party's own seal for a multi-party signature).
    for action, details in bind.execute(sa.select(_events.c.action, _events.c.details).where(
            _events.c.action.in_(('document.sealed', 'document.signed')))).all():
        image_id = version_one.get((details or {}).get('seal_id'))
        document_id = (details or {}).get('document_id')
        if image_id is not None and document_id is not None:
            bind.execute(_documents.update().where(_documents.c.id == document_id).values(seal_image_id=image_id))

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id', 'id'], unique=False)


def downgrade():
    # Each seal keeps its current image; earlier versions and former certificates are dropped.
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_documents_seal_image_id_seal_images'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_documents_seal_image_id'))
        batch_op.drop_column('seal_image_id')
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_pdf', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('image_svg', sa.Text(), nullable=True))
    bind = op.get_bind()
    current = sa.select(_images.c.seal_id, _images.c.image_pdf, _images.c.image_svg).join(
        _seals, sa.and_(_seals.c.id == _images.c.seal_id, _seals.c.image_version == _images.c.version))
    for seal_id, image_pdf, image_svg in bind.execute(current).all():
        bind.execute(_seals.update().where(_seals.c.id == seal_id).values(image_pdf=image_pdf, image_svg=image_svg))
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.alter_column('image_pdf', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column('image_svg', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('image_version')
    with op.batch_alter_table('seal_former_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seal_former_certificates_seal_id'))
    op.drop_table('seal_former_certificates')
    with op.batch_alter_table('seal_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seal_images_seal_id'))
    op.drop_table('seal_images')
