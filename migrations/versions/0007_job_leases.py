"""jobs that know about each other: a lease on transfers, and when a destroyed key went

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import vault.metadata.tables


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Transfers started before this revision have no runner recorded: the next
    # call claims them like a vanished runner's.
    with op.batch_alter_table('subject_transfers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column('claimed_at', vault.metadata.tables.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('key_destructions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'key_destroyed_at', vault.metadata.tables.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('key_destructions', schema=None) as batch_op:
        batch_op.drop_column('key_destroyed_at')
    with op.batch_alter_table('subject_transfers', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
