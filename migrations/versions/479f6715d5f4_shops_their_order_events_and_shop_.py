"""Shops, their order events, and shop earnings on the day rows

Revision ID: 479f6715d5f4
Revises: ebc7952d3ae6
Create Date: 2026-12-03 08:13:39.544006

"""
from alembic import op
import sqlalchemy as sa

import app.database  # noqa: F401  (column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '479f6715d5f4'
down_revision = 'ebc7952d3ae6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('secret', sa.String(length=80), nullable=False),
    sa.Column('previous_secret', sa.String(length=80), nullable=True),
    sa.Column('previous_valid_until', app.database.UTCDateTime(), nullable=True),
    sa.Column('created_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('rotated_at', app.database.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('key', name=op.f('uq_shops_key'))
    )
    op.create_table('shop_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_members_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shop_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_members')),
    sa.UniqueConstraint('shop_id', 'external_id', name='uq_shop_members_shop_external')
    )
    with op.batch_alter_table('shop_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_members_user_id'), ['user_id'], unique=False)

    op.create_table('shop_order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('commission_fen', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('received_at', app.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_order_events_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shop_order_events_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_order_events')),
    sa.UniqueConstraint('shop_id', 'order_id', 'event', name='uq_shop_order_events_once')
    )
    with op.batch_alter_table('shop_order_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_order_events_user_id'), ['user_id'], unique=False)

    op.create_table('shop_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('commission_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('paid_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('settled_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('refunded_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('updated_at', app.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shop_orders_shop_id_shops'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shop_orders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_orders')),
    sa.UniqueConstraint('shop_id', 'order_id', name='uq_shop_orders_shop_order')
    )
    with op.batch_alter_table('shop_orders', schema=None) as batch_op:
        batch_op.create_index('ix_shop_orders_user_day', ['user_id', 'day'], unique=False)

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_earnings_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('shop_earnings_fen', sa.BigInteger(), nullable=True))
    # Every existing day was reported by her (or a mentor's import): that figure is what she reported.
    op.execute("UPDATE checkins SET reported_earnings_fen = earnings_fen")


def downgrade():
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_column('shop_earnings_fen')
        batch_op.drop_column('reported_earnings_fen')

    with op.batch_alter_table('shop_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_orders_user_day')

    op.drop_table('shop_orders')
    with op.batch_alter_table('shop_order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_order_events_user_id'))

    op.drop_table('shop_order_events')
    with op.batch_alter_table('shop_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_members_user_id'))

    op.drop_table('shop_members')
    op.drop_table('shops')
