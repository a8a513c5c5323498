"""Outbox claim tokens: a dispatcher acts only on rows its claim still holds

Revision ID: 4d18d3691f65
Revises: 1e333ccf25d4
Create Date: 2026-12-03 08:22:09.658959

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4d18d3691f65'
down_revision = '1e333ccf25d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('claim_token')
