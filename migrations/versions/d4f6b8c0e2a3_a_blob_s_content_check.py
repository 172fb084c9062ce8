"""A blob's content check: the per-page decoded limit and the rules its every page passed app.pdf's check at (written
at upload), so that stamping in the worker does not walk the document again

Revision ID: d4f6b8c0e2a3
Revises: c3e5a7b9d1f2
Create Date: 2026-12-02 15:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd4f6b8c0e2a3'
down_revision = 'c3e5a7b9d1f2'
branch_labels = None
depends_on = None


def upgrade():
    # Content stored so far has no mark: the worker walks it as before.
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_max_decoded', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('check_version', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_column('check_version')
        batch_op.drop_column('checked_max_decoded')
