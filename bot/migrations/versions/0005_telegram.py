"""telegram: the subscriber's Telegram mode, quiet hours and started flag; the bot's stored state (the last
update id); the papers of each Telegram message already delivered (a retry sends only the rest).

Only adds. Chats that exist already count as never started: an operator added them, and
they are sent nothing until they write /start (issue 11).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers') as batch_op:
        batch_op.add_column(sa.Column('telegram_mode', sa.String(length=10), nullable=False, server_default='instant'))
        batch_op.add_column(sa.Column('quiet_start', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quiet_end', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('telegram_held', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('telegram_started', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('telegram_from_match', sa.Integer(), nullable=True))
    op.create_table(
        'bot_state',
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'telegram_sent_papers',
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('paper_id', sa.String(length=300), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('outbox_id', 'paper_id'),
    )


def downgrade() -> None:
    op.drop_table('telegram_sent_papers')
    op.drop_table('bot_state')
    with op.batch_alter_table('subscribers') as batch_op:
        for column in ('telegram_from_match', 'telegram_started', 'telegram_held', 'quiet_end', 'quiet_start', 'telegram_mode'):
            batch_op.drop_column(column)
