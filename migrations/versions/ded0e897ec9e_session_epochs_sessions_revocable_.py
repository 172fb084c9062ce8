"""Session epochs: sessions revocable server-side

Revision ID: ded0e897ec9e
Revises: 794b11fde887
Create Date: 2026-12-01 03:44:52.656248

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ded0e897ec9e'
down_revision = '794b11fde887'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')

