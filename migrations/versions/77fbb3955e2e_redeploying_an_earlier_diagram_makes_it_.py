"""Redeploying an earlier diagram makes it the newest version

Revision ID: 77fbb3955e2e
Revises: d1a446d56c98
Create Date: 2026-11-23 17:54:54.249848

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '77fbb3955e2e'
down_revision = 'd1a446d56c98'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_process_definitions_process_hash'), type_='unique')
        batch_op.create_index('ix_process_definitions_process_hash', ['process_id', 'content_hash'], unique=False)


def downgrade():
    # Fails while a process has two versions with the same content (a rollback was deployed): remove one first.
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_index('ix_process_definitions_process_hash')
        batch_op.create_unique_constraint(batch_op.f('uq_process_definitions_process_hash'), ['process_id', 'content_hash'])
