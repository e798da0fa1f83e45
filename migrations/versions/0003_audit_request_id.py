"""audit events carry the request id of the HTTP request that caused them

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Events written before this column existed have no request id ('').
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'request_id',
                sqlmodel.sql.sqltypes.AutoString(length=128),
                nullable=False,
                server_default='',
            )
        )
        batch_op.create_index(batch_op.f('ix_audit_events_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_request_id'))
        batch_op.drop_column('request_id')
