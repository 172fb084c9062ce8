"""Seal policy at filing, separation of duties, seal custodians and users

Revision ID: b2247a5749e8
Revises: 77fbb3955e2e
Create Date: 2026-12-01 02:10:30.243258

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b2247a5749e8'
down_revision = '77fbb3955e2e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seal_custodians',
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_seal_custodians_seal_id_seals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_seal_custodians_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seal_id', 'user_id', name=op.f('pk_seal_custodians'))
    )
    op.create_table('seal_user_departments',
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_seal_user_departments_department_id_departments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_seal_user_departments_seal_id_seals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seal_id', 'department_id', name=op.f('pk_seal_user_departments'))
    )
    op.create_table('seal_user_people',
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_seal_user_people_seal_id_seals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_seal_user_people_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seal_id', 'user_id', name=op.f('pk_seal_user_people'))
    )
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_departments_parent_id_departments'), 'departments', ['parent_id'], ['id'])

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('document_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('decided_as', sa.String(length=200), nullable=True))

    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        # Applications filed before have no recorded requirements: the sealing gate refuses them (file again).
        batch_op.add_column(sa.Column('required_approvals', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('policy_hash', sa.String(length=64), nullable=True))



def downgrade():
    with op.batch_alter_table('seal_applications', schema=None) as batch_op:
        batch_op.drop_column('policy_hash')
        batch_op.drop_column('required_approvals')

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('decided_as')
        batch_op.drop_column('document_sha256')
        batch_op.drop_column('level')

    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_departments_parent_id_departments'), type_='foreignkey')
        batch_op.drop_column('parent_id')

    op.drop_table('seal_user_people')
    op.drop_table('seal_user_departments')
    op.drop_table('seal_custodians')
