"""WeChat bindings, login states and credentials; SMS codes; channel choices

Revision ID: 1ca3fae32859
Revises: 479f6715d5f4
Create Date: 2026-12-03 08:13:16.201753

"""
from alembic import op
import sqlalchemy as sa

import app.database  # noqa: F401  (column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '1ca3fae32859'
down_revision = '479f6715d5f4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sms_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mobile', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('used_at', app.database.UTCDateTime(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_codes'))
    )
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.create_index('ix_sms_codes_address_created_at', ['address', 'created_at'], unique=False)
        batch_op.create_index('ix_sms_codes_mobile_created_at', ['mobile', 'created_at'], unique=False)

    op.create_table('wechat_credentials',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('refreshed_at', app.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_wechat_credentials'))
    )
    op.create_table('channel_choices',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('off_reason', sa.String(length=20), nullable=True),
    sa.Column('updated_at', app.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_channel_choices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'channel', name=op.f('pk_channel_choices'))
    )
    op.create_table('wechat_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('nickname', sa.String(length=80), nullable=True),
    sa.Column('bound_at', app.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_wechat_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_accounts')),
    sa.UniqueConstraint('openid', name=op.f('uq_wechat_accounts_openid')),
    sa.UniqueConstraint('user_id', name=op.f('uq_wechat_accounts_user_id'))
    )
    with op.batch_alter_table('wechat_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_accounts_unionid'), ['unionid'], unique=False)

    op.create_table('wechat_oauth_states',
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('next_path', sa.String(length=500), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(), nullable=False),
    sa.Column('used_at', app.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_wechat_oauth_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('state', name=op.f('pk_wechat_oauth_states'))
    )
    with op.batch_alter_table('wechat_oauth_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_oauth_states_created_at'), ['created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('wechat_oauth_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_oauth_states_created_at'))

    op.drop_table('wechat_oauth_states')
    with op.batch_alter_table('wechat_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_accounts_unionid'))

    op.drop_table('wechat_accounts')
    op.drop_table('channel_choices')
    op.drop_table('wechat_credentials')
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_codes_mobile_created_at')
        batch_op.drop_index('ix_sms_codes_address_created_at')

    op.drop_table('sms_codes')
