"""sources.moved_to: a permanent redirect seen while polling, kept for the operator to accept.

A 301/308 no longer rewrites a source's URL (a feed could move itself anywhere): the
new address is recorded here, shown by `sources list`, and `sources accept-move NAME`
makes it the URL. Only adds a nullable column.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('moved_to', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('moved_to')
