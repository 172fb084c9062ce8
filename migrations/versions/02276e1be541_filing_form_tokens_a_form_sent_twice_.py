"""Filing form tokens: a form sent twice files one application

Revision ID: 02276e1be541
Revises: ded0e897ec9e
Create Date: 2026-12-01 03:50:41.701629

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '02276e1be541'
down_revision = 'ded0e897ec9e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_seal_applications_requester_submission', ['requester_id', 'submission_token'])



def downgrade():
    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        batch_op.drop_constraint('uq_seal_applications_requester_submission', type_='unique')
        batch_op.drop_column('submission_token')

