"""Where a web chat session moved from at a join or a switch, and for which message: a page whose answer was lost sends
the code again with its old token, and gets the answers and the new token (was: refused, and the
code already used, so the member was locked out).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webchatsession") as table:
        table.add_column(sa.Column("moved_from", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("moved_for", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("moved_switch", sa.Boolean(), nullable=False, server_default=sa.false()))
    # In the transaction, not CONCURRENTLY as 0025's: the table holds only live sessions, and the
    # migration stays whole (a column added without its index is never left behind).
    op.create_index("ix_webchatsession_moved_from", "webchatsession", ["moved_from"])


def downgrade() -> None:
    op.drop_index("ix_webchatsession_moved_from", table_name="webchatsession")
    with op.batch_alter_table("webchatsession") as table:
        table.drop_column("moved_switch")
        table.drop_column("moved_for")
        table.drop_column("moved_from")
