"""compact matches: hits are found again at render time (for the papers a message shows), not stored per match;
an index on matches.paper_id (pruning and the per-paper lookups of matching).

Only relaxes (hits becomes nullable) and adds an index: a process of the previous release that is
still running keeps writing hits, which are still read when present.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matches') as batch_op:
        batch_op.alter_column('hits', existing_type=sa.JSON(), nullable=True)
        batch_op.create_index('ix_matches_paper_id', ['paper_id'])


def downgrade() -> None:
    op.execute("UPDATE matches SET hits = '[]' WHERE hits IS NULL")
    with op.batch_alter_table('matches') as batch_op:
        batch_op.drop_index('ix_matches_paper_id')
        batch_op.alter_column('hits', existing_type=sa.JSON(), nullable=False)
