"""What the archive and the usage ledger file an application under: title, counterparty, copies

Revision ID: a1c3e5f7b9d2
Revises: 7b5ae514cdad
Create Date: 2026-12-04 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a1c3e5f7b9d2'
down_revision = '7b5ae514cdad'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('counterparty', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('copies', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index(batch_op.f('ix_seal_applications_counterparty'), ['counterparty'], unique=False)


def downgrade():
    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seal_applications_counterparty'))
        batch_op.drop_column('copies')
        batch_op.drop_column('counterparty')
        batch_op.drop_column('title')
