"""matches.ix_matches_outbox_id only where outbox_id is set: the old single link (superseded by
match_deliveries in 0002) is NULL on every match stored since, and each new match still wrote an
index entry for it (a broad day: ten million of them). The index stays for the rows that have one:
deleting a message sets their outbox_id to NULL (ON DELETE SET NULL), and both backends find them
through a partial index. No row changes.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SET = sa.text('outbox_id IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_matches_outbox_id', table_name='matches')
    op.create_index('ix_matches_outbox_id', 'matches', ['outbox_id'], sqlite_where=SET, postgresql_where=SET)


def downgrade() -> None:
    op.drop_index('ix_matches_outbox_id', table_name='matches')
    op.create_index('ix_matches_outbox_id', 'matches', ['outbox_id'])
