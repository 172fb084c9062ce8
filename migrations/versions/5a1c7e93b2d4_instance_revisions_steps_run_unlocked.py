"""Instance revisions: a process step runs its expressions without a lock, then claims the row by revision

Revision ID: 5a1c7e93b2d4
Revises: 02276e1be541
Create Date: 2026-12-01 05:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5a1c7e93b2d4'
down_revision = '02276e1be541'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_column('revision')
