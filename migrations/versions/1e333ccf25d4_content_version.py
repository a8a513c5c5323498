"""Content version: a token a sync changes, so every web worker knows when to rebuild its content snapshot

Revision ID: 1e333ccf25d4
Revises: 1ca3fae32859
Create Date: 2026-12-03 08:12:22.654414

"""
from alembic import op
import sqlalchemy as sa

import app.database  # noqa: F401  (column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '1e333ccf25d4'
down_revision = '1ca3fae32859'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('content_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('changed_at', app.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_versions'))
    )


def downgrade():
    op.drop_table('content_versions')
