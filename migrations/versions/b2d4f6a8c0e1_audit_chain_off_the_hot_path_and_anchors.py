"""The audit chain off the hot path (events chained after commit, by position) and its time-stamped anchors; the
organisation's system seal (certificates of completion); documents' time-stamp expiry (long-term validity upkeep)

Revision ID: b2d4f6a8c0e1
Revises: a1c3e5f7b9d2
Create Date: 2026-12-04 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b2d4f6a8c0e1'
down_revision = 'a1c3e5f7b9d2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
    # Events written so far were chained as they were written, in id order: their positions are their ranks.
    op.execute("UPDATE audit_events SET seq = (SELECT COUNT(*) FROM audit_events AS earlier "
               "WHERE earlier.id <= audit_events.id)")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
        batch_op.create_index('ix_audit_events_unchained', ['id'], unique=False,
                              postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))
    op.create_table(
        'audit_anchors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('token', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors')),
        sa.UniqueConstraint('seq', name=op.f('uq_audit_anchors_seq')),
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upkeep_checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('timestamp_expires_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('system_certificate_pem', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('system_encrypted_key', sa.LargeBinary(), nullable=True))


def downgrade():
    unchained = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL")).scalar()
    if unchained:
        raise RuntimeError(f"{unchained} audit events are not chained yet: run `flask audit chain` first")
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('timestamp_expires_at')
        batch_op.drop_column('upkeep_checked_at')
    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.drop_column('system_encrypted_key')
        batch_op.drop_column('system_certificate_pem')
    op.drop_table('audit_anchors')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_unchained', sqlite_where=sa.text('seq IS NULL'),
                            postgresql_where=sa.text('seq IS NULL'))
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('seq')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
