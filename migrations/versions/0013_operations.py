"""When the secretaries were last told that a channel stopped delivering (one alert a day per channel).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 09:25:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Expand only: a new table, which a replica still running the previous release never reads.
    op.create_table('channelalert',
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform')
    )


def downgrade() -> None:
    op.drop_table('channelalert')
