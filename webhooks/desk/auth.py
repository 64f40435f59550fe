"""Who is at the desk: the signed-in member, checked on every request, and the CSRF check of every form.

``desk_user`` gives the page a ``DeskUser`` (or answers with a clear page: not signed in, signed
out, no longer allowed); ``desk_form`` reads a POSTed form after checking its ``csrf`` field
against the session's. What a user may act on comes from ``models.permissions.may``, the table the
chat uses: ``DeskUser.branch_ids`` are the branches it lets them see the roster of.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from bot.runtime import Runtime
from models.desk import signed_in
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import Branch, Member, Role
from models.vietnamese import text_key

COOKIE = "chibo_desk"


class DeskRefusal(Exception):
    """Answered with a clear page and nothing else (``webhooks.desk.install`` renders it)."""

    def __init__(self, status: int, kind: str) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind  # signed_out | not_allowed | csrf | link_<LinkRefusal> | not_found


@dataclass(frozen=True)
class DeskUser:
    member_id: int
    name: str
    role: Role
    committee_role: Role | None
    branch_id: int
    # The branches the permission table lets them act on, in the commune's order.
    branch_ids: tuple[int, ...]
    commune: bool  # they act on every branch (a commune committee secretary or deputy)
    locale: str | None
    csrf: str

    async def member(self, session: AsyncSession) -> Member:
        """Their row, loaded in the caller's session (for the domain's functions that take the actor)."""
        found = await session.get(Member, self.member_id)
        assert found is not None
        return found

    def may(self, branch_id: int) -> bool:
        return branch_id in self.branch_ids


def desk_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def desk_user(request: Request) -> DeskUser:
    """The signed-in member, re-checked now: a deactivated member, or one whose office no longer
    allows the desk, is signed out at their next request."""
    runtime = desk_runtime(request)
    token = request.cookies.get(COOKIE, "")
    async with runtime.sessions() as session, session.begin():
        found = await signed_in(session, token) if token else None
        # Refused only after the commit: a session ended here (its member may no longer use the
        # desk) stays ended, even when the office is given back.
        if found is not None:
            desk_session, member = found
            branches = sorted((await session.exec(select(Branch))).all(), key=lambda b: text_key(b.name))
            branch_ids = tuple(
                b.id for b in branches if b.id is not None and may(member, Permission.VIEW_ROSTER, Target(b.id))
            )
    if found is None:
        raise DeskRefusal(401, "signed_out")
    assert member.id is not None
    return DeskUser(
        member_id=member.id,
        name=member.full_name,
        role=member.role,
        committee_role=member.committee_role,
        branch_id=member.branch_id,
        branch_ids=branch_ids,
        commune=scope_of(member) is Scope.COMMUNE,
        locale=member.locale,
        csrf=desk_session.csrf,
    )


DeskUserDep = Annotated[DeskUser, Depends(desk_user)]


async def check_csrf(request: Request, user: DeskUserDep) -> FormData:
    """The POSTed form, once its ``csrf`` field matches the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
        raise DeskRefusal(403, "csrf")
    return form


desk_form = check_csrf
DeskFormDep = Annotated[FormData, Depends(check_csrf)]
