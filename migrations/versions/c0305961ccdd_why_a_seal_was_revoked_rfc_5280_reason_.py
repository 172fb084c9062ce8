"""Why a seal was revoked: RFC 5280 reason and a note

Revision ID: c0305961ccdd
Revises: b2247a5749e8
Create Date: 2026-12-01 02:11:51.015866

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0305961ccdd'
down_revision = 'b2247a5749e8'
branch_labels = None
depends_on = None


def upgrade():
    # Seals revoked before this revision keep no reason: their CRL entries carry none (RFC 5280: unspecified).
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revocation_reason', sa.Enum('KEY_COMPROMISE', 'SUPERSEDED', 'CESSATION_OF_OPERATION', name='revocationreason', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('revocation_note', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.drop_column('revocation_note')
        batch_op.drop_column('revocation_reason')
