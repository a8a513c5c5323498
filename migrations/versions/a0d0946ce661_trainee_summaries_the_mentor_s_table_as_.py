"""Trainee summaries: the mentor's table as a read model, and the versions that keep it current

Revision ID: a0d0946ce661
Revises: 4d18d3691f65
Create Date: 2026-12-03 08:15:02.788483

"""
from alembic import op
import sqlalchemy as sa

import app.database  # noqa: F401  (column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = 'a0d0946ce661'
down_revision = '4d18d3691f65'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('summary_versions',
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_summary_versions'))
    )
    # One row per trainee, worked out again when out of date (see app/cohorts/summaries.py): no backfill.
    op.create_table('trainee_summaries',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('computed_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('stale_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('programme_day', sa.Integer(), nullable=False),
    sa.Column('total_earnings_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('status_rank', sa.Integer(), nullable=False),
    sa.Column('milestones', sa.JSON(), nullable=False),
    sa.Column('lessons_done', sa.Integer(), nullable=False),
    sa.Column('lessons_total', sa.Integer(), nullable=False),
    sa.Column('next_lesson_id', sa.Integer(), nullable=True),
    sa.Column('quizzes_passed', sa.Integer(), nullable=False),
    sa.Column('quizzes_total', sa.Integer(), nullable=False),
    sa.Column('essays_waiting', sa.Integer(), nullable=False),
    sa.Column('last_checkin', sa.Date(), nullable=True),
    sa.Column('last_active_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('contacted_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('task_done', sa.Boolean(), nullable=True),
    sa.Column('weakest', sa.String(length=16), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('attention', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trainee_summaries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_trainee_summaries'))
    )



def downgrade():
    op.drop_table('trainee_summaries')
    op.drop_table('summary_versions')
