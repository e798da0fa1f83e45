"""indexes behind cursor paging: every list's keyset order

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Lists page on (sort key, id) after a cursor (vault/paging.py); each order has its index.
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index(
            'ix_records_subject_page', ['subject_id', 'created_at', 'id'], unique=False
        )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index('ix_legal_holds_page', ['placed_at', 'id'], unique=False)
    with op.batch_alter_table('key_destructions', schema=None) as batch_op:
        batch_op.create_index('ix_key_destructions_page', ['scheduled_at', 'id'], unique=False)
    # Audit queries filter on actor, action or subject and page by seq: (column, seq)
    # replaces the single-column index (it serves equality lookups as well).
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_actor')
        batch_op.drop_index('ix_audit_events_action')
        batch_op.drop_index('ix_audit_events_subject_id')
        batch_op.create_index('ix_audit_events_actor_seq', ['actor', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_action_seq', ['action', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_subject_seq', ['subject_id', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_subject_seq')
        batch_op.drop_index('ix_audit_events_action_seq')
        batch_op.drop_index('ix_audit_events_actor_seq')
        batch_op.create_index('ix_audit_events_subject_id', ['subject_id'], unique=False)
        batch_op.create_index('ix_audit_events_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_events_actor', ['actor'], unique=False)
    with op.batch_alter_table('key_destructions', schema=None) as batch_op:
        batch_op.drop_index('ix_key_destructions_page')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_legal_holds_page')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_subject_page')
