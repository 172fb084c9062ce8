"""Signature authorizations and their uses

Revision ID: 794b11fde887
Revises: c0305961ccdd
Create Date: 2026-12-01 02:40:46.446601

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '794b11fde887'
down_revision = 'c0305961ccdd'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signature_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seal_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('process_ids', sa.JSON(), nullable=False),
    sa.Column('document_types', sa.JSON(), nullable=False),
    sa.Column('department_ids', sa.JSON(), nullable=False),
    sa.Column('amount_ceiling', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('uses_granted', sa.Integer(), nullable=False),
    sa.Column('uses_left', sa.Integer(), nullable=False),
    sa.Column('letter_sha256', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=500), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['leader_id'], ['users.id'], name=op.f('fk_signature_authorizations_leader_id_users')),
    sa.ForeignKeyConstraint(['letter_sha256'], ['blobs.sha256'], name=op.f('fk_signature_authorizations_letter_sha256_blobs')),
    sa.ForeignKeyConstraint(['seal_id'], ['seals.id'], name=op.f('fk_signature_authorizations_seal_id_seals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_authorizations'))
    )
    with op.batch_alter_table('signature_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_authorizations_leader_id'), ['leader_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_authorizations_seal_id'), ['seal_id'], unique=False)

    op.create_table('authorization_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['seal_applications.id'], name=op.f('fk_authorization_uses_application_id_seal_applications')),
    sa.ForeignKeyConstraint(['authorization_id'], ['signature_authorizations.id'], name=op.f('fk_authorization_uses_authorization_id_signature_authorizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authorization_uses')),
    sa.UniqueConstraint('authorization_id', 'application_id', name='uq_authorization_uses_authorization_application')
    )
    with op.batch_alter_table('authorization_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_uses_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorization_uses_authorization_id'), ['authorization_id'], unique=False)



def downgrade():
    with op.batch_alter_table('authorization_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_uses_authorization_id'))
        batch_op.drop_index(batch_op.f('ix_authorization_uses_application_id'))

    op.drop_table('authorization_uses')
    with op.batch_alter_table('signature_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_authorizations_seal_id'))
        batch_op.drop_index(batch_op.f('ix_signature_authorizations_leader_id'))

    op.drop_table('signature_authorizations')
