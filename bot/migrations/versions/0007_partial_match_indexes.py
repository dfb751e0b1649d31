"""partial indexes on matches, for the few rows each is about:

- ix_matches_outbox_id only where outbox_id is set: the old single link (superseded by
  match_deliveries in 0002) is NULL on every match stored since, and each new match still wrote
  an index entry for it (a broad day: ten million). Deleting a message sets its rows' outbox_id
  to NULL (ON DELETE SET NULL): both backends find them through the partial index.
- ix_matches_learned on subscriber_id where a reader's model scored or suggested the match: the
  learn step asks which readers have such matches on every planning pass, which read every match.

No row changes.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

HAS_OLD_LINK = sa.text('outbox_id IS NOT NULL')
LEARNED_OR_SUGGESTED = sa.text('learned IS NOT NULL OR suggested_from IS NOT NULL')


def upgrade() -> None:
    op.drop_index('ix_matches_outbox_id', table_name='matches')
    op.create_index('ix_matches_outbox_id', 'matches', ['outbox_id'], sqlite_where=HAS_OLD_LINK,
                    postgresql_where=HAS_OLD_LINK)
    op.create_index('ix_matches_learned', 'matches', ['subscriber_id'], sqlite_where=LEARNED_OR_SUGGESTED,
                    postgresql_where=LEARNED_OR_SUGGESTED)


def downgrade() -> None:
    op.drop_index('ix_matches_learned', table_name='matches')
    op.drop_index('ix_matches_outbox_id', table_name='matches')
    op.create_index('ix_matches_outbox_id', 'matches', ['outbox_id'])
