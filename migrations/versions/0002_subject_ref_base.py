"""references scoped by region: subjects keep the region-free HMAC (ADR 0005)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Existing subjects keep their region-free HMAC in ref_hmac; lookups accept it
    # in the subject's own region, so nothing needs recomputing (the secret is not
    # available to migrations anyway).
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('ref_base', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_column('ref_base')
