"""people, channels and workers: optional email, a unique chat, per-channel state, token secrets;
match deliveries per channel; claim owners and the workers registry; shared pacing and rate limits;
tombstones of pruned papers.

Only adds (tables, columns, copied data): matches.outbox_id stays for this release, so a
process of the previous release that is still running reads a schema it knows.

Revision ID: 0002
Revises: 0001
"""
import secrets
import sys

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'workers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('roles', sa.String(length=100), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
        sa.Column('stopped_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_workers_stopped_at', 'workers', ['stopped_at'])
    op.create_table(
        'pacing',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('next_slot', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'rate_hits',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'window_start'),
    )
    op.create_table(
        'paper_tombstones',
        sa.Column('id', sa.String(length=300), nullable=False),
        sa.Column('pruned_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'match_deliveries',
        sa.Column('match_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['match_id'], ['matches.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('match_id', 'channel'),
    )
    op.create_index('ix_match_deliveries_outbox_id', 'match_deliveries', ['outbox_id'])
    op.execute("INSERT INTO match_deliveries (match_id, channel, outbox_id) "
               "SELECT m.id, o.channel, m.outbox_id FROM matches m JOIN outbox o ON o.id = m.outbox_id")

    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_outbox_owner_id', ['owner_id'])

    _report_duplicate_chats()
    with op.batch_alter_table('subscribers') as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=320), nullable=True)
        batch_op.add_column(sa.Column('email_state', sa.String(length=20), nullable=False, server_default='on'))
        batch_op.add_column(sa.Column('email_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('telegram_state', sa.String(length=20), nullable=False, server_default='on'))
        batch_op.add_column(sa.Column('telegram_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('token_secret', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_subscribers_telegram_chat_id', ['telegram_chat_id'])
    # A bouncing address was a subscriber status; now it stops the email channel only.
    op.execute("UPDATE subscribers SET status = 'active', email_state = 'off', "
               "email_reason = 'bouncing: ' || bounces || ' permanent delivery failures in a row' "
               "WHERE status = 'bouncing'")
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM subscribers WHERE token_secret IS NULL"))]
    if ids:
        bind.execute(sa.text("UPDATE subscribers SET token_secret = :secret WHERE id = :id"),
                     [{"id": i, "secret": secrets.token_hex(16)} for i in ids])


def _report_duplicate_chats() -> None:
    """One chat on two subscribers cannot become unique: keep it on the oldest, clear it on the others, and say so."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT telegram_chat_id, id, email FROM subscribers WHERE telegram_chat_id IN ("
        "SELECT telegram_chat_id FROM subscribers WHERE telegram_chat_id IS NOT NULL "
        "GROUP BY telegram_chat_id HAVING COUNT(*) > 1) ORDER BY telegram_chat_id, id")).all()
    kept: dict[str, int] = {}
    for chat, subscriber_id, email in rows:
        if chat not in kept:
            kept[chat] = subscriber_id
            continue
        bind.execute(sa.text("UPDATE subscribers SET telegram_chat_id = NULL WHERE id = :id"), {"id": subscriber_id})
        sys.stderr.write(f"paperpost upgrade: Telegram chat {chat} was set on several subscribers; it stays on "
                         f"#{kept[chat]} and is removed from #{subscriber_id} ({email}); link it again if that "
                         "was the right one.\n")


def downgrade() -> None:
    with op.batch_alter_table('subscribers') as batch_op:
        batch_op.drop_constraint('uq_subscribers_telegram_chat_id', type_='unique')
        batch_op.drop_column('token_secret')
        batch_op.drop_column('telegram_reason')
        batch_op.drop_column('telegram_state')
        batch_op.drop_column('email_reason')
        batch_op.drop_column('email_state')
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_index('ix_outbox_owner_id')
        batch_op.drop_column('owner_id')
    op.drop_index('ix_match_deliveries_outbox_id', 'match_deliveries')
    op.drop_table('match_deliveries')
    op.drop_table('paper_tombstones')
    op.drop_table('rate_hits')
    op.drop_table('pacing')
    op.drop_index('ix_workers_stopped_at', 'workers')
    op.drop_table('workers')
