"""Attendance confirmed by the secretary; the register's reasons for leaving the roster.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = ("transferred", "removed", "expelled", "resigned", "died")
_OLD = ("moved_away", "died", "expelled", "other")
# Old reason -> the register's (chuyển sinh hoạt đảng, xóa tên, khai trừ, xin ra khỏi Đảng, từ trần).
# "other" said nothing more, so it becomes "removed" (xóa tên), the register's general removal.
_FORWARD = {"moved_away": "transferred", "other": "removed"}
_BACK = {"transferred": "moved_away", "removed": "other", "resigned": "other"}


def _reason(values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name="deactivationreason", native_enum=False, length=32)


def _rename(mapping: dict[str, str]) -> None:
    member = sa.table("member", sa.column("deactivation_reason", sa.String(32)))
    for old, new in mapping.items():
        op.execute(member.update().where(member.c.deactivation_reason == old).values(deactivation_reason=new))


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attendance_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attendance_confirmed_by_member_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_meeting_attendance_confirmed_by", "member", ["attendance_confirmed_by_member_id"], ["id"]
        )
    _rename(_FORWARD)
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.alter_column(
            "deactivation_reason", existing_type=_reason(_OLD), type_=_reason(_NEW), existing_nullable=True
        )


def downgrade() -> None:
    _rename(_BACK)
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.alter_column(
            "deactivation_reason", existing_type=_reason(_NEW), type_=_reason(_OLD), existing_nullable=True
        )
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint("fk_meeting_attendance_confirmed_by", type_="foreignkey")
        batch_op.drop_column("attendance_confirmed_by_member_id")
        batch_op.drop_column("attendance_confirmed_at")
