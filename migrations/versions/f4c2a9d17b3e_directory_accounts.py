"""Directory accounts: where a user comes from (their LDAP DN) and when a sync found them gone

Revision ID: f4c2a9d17b3e
Revises: e4b7c2a9d310
Create Date: 2026-12-02 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f4c2a9d17b3e'
down_revision = 'e4b7c2a9d310'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('directory_dn', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('directory_vanished_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('directory_vanished_at')
        batch_op.drop_column('directory_dn')
