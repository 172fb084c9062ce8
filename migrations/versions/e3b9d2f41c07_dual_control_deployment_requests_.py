"""Dual control: deployment requests, who deployed and approved a version and why, and who started a process

Revision ID: e3b9d2f41c07
Revises: 5a1c7e93b2d4
Create Date: 2026-12-01 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3b9d2f41c07'
down_revision = '5a1c7e93b2d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('deployed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_process_definitions_deployed_by_id_users', 'users', ['deployed_by_id'],
                                    ['id'])
        batch_op.create_foreign_key('fk_process_definitions_approved_by_id_users', 'users', ['approved_by_id'],
                                    ['id'])
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_process_instances_requester_id'), ['requester_id'], unique=False)
        batch_op.create_foreign_key('fk_process_instances_requester_id_users', 'users', ['requester_id'], ['id'])
    # Every process so far ran a seal application: its requester started it.
    op.execute("UPDATE process_instances SET requester_id = (SELECT requester_id FROM seal_applications "
               "WHERE seal_applications.id = process_instances.application_id) WHERE application_id IS NOT NULL")
    op.create_table(
        'deployment_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('PROCESS', 'POLICY', name='deploymentkind', native_enum=False, length=16),
                  nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=200), server_default='', nullable=False),
        sa.Column('source_name', sa.String(length=255), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('deployed_version', sa.Integer(), nullable=True),
        sa.Column('status', sa.Enum('PENDING', 'DEPLOYED', 'REJECTED', 'WITHDRAWN', 'FAILED',
                                    name='deploymentstatus', native_enum=False, length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instance_id'),
    )
    with op.batch_alter_table('deployment_requests', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_requests_subject_status', ['kind', 'subject', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployment_requests_status'), ['status'], unique=False)
        batch_op.create_index('uq_deployment_requests_one_pending', ['kind', 'subject'], unique=True,
                              sqlite_where=sa.text("status = 'PENDING'"),
                              postgresql_where=sa.text("status = 'PENDING'"))


def downgrade():
    op.drop_table('deployment_requests')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_constraint('fk_process_instances_requester_id_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_process_instances_requester_id'))
        batch_op.drop_column('requester_id')
    with op.batch_alter_table('process_definitions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_process_definitions_approved_by_id_users', type_='foreignkey')
        batch_op.drop_constraint('fk_process_definitions_deployed_by_id_users', type_='foreignkey')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('deployed_by_id')
        batch_op.drop_column('comment')
