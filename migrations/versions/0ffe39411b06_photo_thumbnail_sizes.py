"""Photos: the thumbnail's size (None until the smaller sizes are made)

Photos uploaded before this have no thumbnail and medium size yet: `academy photos sizes` makes
them (the lists show the full size until then).

Revision ID: 0ffe39411b06
Revises: a0d0946ce661
Create Date: 2026-12-03 08:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0ffe39411b06'
down_revision = 'a0d0946ce661'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thumb_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('thumb_height', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('thumb_height')
        batch_op.drop_column('thumb_width')
