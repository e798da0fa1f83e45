"""shredded remnants: locked objects kept by the store after their key was destroyed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import vault.metadata.tables


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('shredded_remnants',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('object_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('subject_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('key_version', sa.Integer(), nullable=True),
    sa.Column('retain_until', vault.metadata.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', vault.metadata.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shredded_at', vault.metadata.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_key')
    )
    with op.batch_alter_table('shredded_remnants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shredded_remnants_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_shredded_remnants_retain_until'), ['retain_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_shredded_remnants_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_shredded_remnants_subject_id'), ['subject_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shredded_remnants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shredded_remnants_subject_id'))
        batch_op.drop_index(batch_op.f('ix_shredded_remnants_state'))
        batch_op.drop_index(batch_op.f('ix_shredded_remnants_retain_until'))
        batch_op.drop_index(batch_op.f('ix_shredded_remnants_region'))
    op.drop_table('shredded_remnants')
