"""A phone number belongs to one active member: a partial unique index on member.phone.

A member could register another member's number as their own (and so take over the chats that share
it). Numbers already held by several active members are resolved before the index is made: the
number stays with one of them and is cleared from the others, each clearing audited
("member.phone_cleared") and logged, so their secretary can enter the right numbers. It stays with
a member who did not set it themselves (a secretary or the register did), else with the member
longest on the roster (the lowest id).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 13:00:00
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

_member = sa.table("member", sa.column("id", sa.Integer), sa.column("phone", sa.String), sa.column("active", sa.Boolean))
_audit = sa.table(
    "auditevent",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_member_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
)
_ACTIVE_PHONE = sa.text("active AND phone IS NOT NULL")


def _resolve_duplicates(bind: sa.Connection) -> None:
    holders: dict[str, list[int]] = defaultdict(list)
    query = sa.select(_member.c.id, _member.c.phone).where(_member.c.active.is_(True), _member.c.phone.is_not(None))
    for member_id, phone in bind.execute(query.order_by(_member.c.id)):
        holders[phone].append(member_id)
    clashes = {phone: ids for phone, ids in holders.items() if len(ids) > 1}
    if not clashes:
        return
    involved = [member_id for ids in clashes.values() for member_id in ids]
    # The last number each member set themselves ("member.phone": actor and subject are the member).
    self_set: dict[int, str | None] = {}
    changes = sa.select(_audit.c.subject_id, _audit.c.after).where(
        _audit.c.action == "member.phone",
        _audit.c.subject_type == "member",
        _audit.c.subject_id.in_(involved),
        _audit.c.actor_member_id == _audit.c.subject_id,
    )
    for member_id, after in bind.execute(changes.order_by(_audit.c.at, _audit.c.id)):
        self_set[member_id] = (after or {}).get("phone")
    now = datetime.now(UTC)
    for phone, ids in clashes.items():
        keeper = next((m for m in ids if self_set.get(m) != phone), ids[0])
        for member_id in ids:
            if member_id == keeper:
                continue
            bind.execute(sa.update(_member).where(_member.c.id == member_id).values(phone=None))
            bind.execute(
                sa.insert(_audit).values(
                    at=now,
                    actor_member_id=None,
                    action="member.phone_cleared",
                    subject_type="member",
                    subject_id=member_id,
                    before={"phone": phone},
                    after={"phone": None},
                )
            )
            log.warning("member %s: phone %s cleared, member %s has it too and keeps it", member_id, phone, keeper)


def upgrade() -> None:
    _resolve_duplicates(op.get_bind())
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index(
            "ux_member_active_phone", ["phone"], unique=True, postgresql_where=_ACTIVE_PHONE, sqlite_where=_ACTIVE_PHONE
        )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ux_member_active_phone")
