"""Who set a user's password (no puppet accounts deciding their maker's requests) and when a role was given

Revision ID: 7b5ae514cdad
Revises: f4c2a9d17b3e
Create Date: 2026-12-03 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7b5ae514cdad'
down_revision = 'f4c2a9d17b3e'
branch_labels = None
depends_on = None


def _utcnow():
    """The database's clock in naive UTC, as app/models/timestamps.UtcNow compiles it (written out here: a migration
    does not follow later changes of the models)."""
    if op.get_bind().dialect.name == 'postgresql':
        return sa.text("timezone('utc', statement_timestamp())")
    return sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now'))")


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_set_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_password_set_by_id_users'), 'users',
                                    ['password_set_by_id'], ['id'])
    # SQLite adds no column whose default is not a constant: there the table is copied instead. Roles held so far
    # count as given now.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('user_roles', schema=None, recreate='always' if sqlite else 'auto') as batch_op:
        batch_op.add_column(sa.Column('granted_at', sa.DateTime(), server_default=_utcnow(), nullable=False))


def downgrade():
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_column('granted_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_password_set_by_id_users'), type_='foreignkey')
        batch_op.drop_column('password_set_by_id')
