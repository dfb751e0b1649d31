"""feedback: readers' votes on papers, and what the learned model adds to a match.

`votes`: one per (subscriber, paper), +1 "more like this" / -1 "not for me"; they go with the
subscriber (and with the paper, when retention prunes it). `matches.learned`: the reader's model
score of a keyword match (it reorders matches within a band of keyword evidence);
`matches.suggested_from`: set on a match no interest made, a "You may also like" paper, to the
id of the liked paper it is nearest to (its explanation). Only adds: rows already stored stay
as they are (no votes, no learned score: today's digest).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'votes',
        sa.Column('subscriber_id', sa.Integer(), nullable=False),
        sa.Column('paper_id', sa.String(length=300), nullable=False),
        sa.Column('value', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('subscriber_id', 'paper_id'),
    )
    op.create_index('ix_votes_paper_id', 'votes', ['paper_id'])
    with op.batch_alter_table('matches') as batch_op:
        batch_op.add_column(sa.Column('learned', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('suggested_from', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matches') as batch_op:
        batch_op.drop_column('suggested_from')
        batch_op.drop_column('learned')
    op.drop_index('ix_votes_paper_id', table_name='votes')
    op.drop_table('votes')
