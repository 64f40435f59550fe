"""Who is at the desk: the signed-in member, checked on every request, and the CSRF check of every form.

``desk_user`` gives the page a ``DeskUser`` (or answers with a clear page: not signed in, signed
out, no longer allowed); ``desk_form`` reads a POSTed form after checking its ``csrf`` field
against the session's. What a user may act on comes from ``models.permissions.may``, the table the
chat uses: ``DeskUser.branch_ids`` are the branches it lets them see the roster of.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.types import Message

from bot.runtime import Runtime
from models.desk import signed_in
from models.permissions import Permission, Scope, Target, may, scope_of
from models.roster_files import MAX_BYTES as REGISTER_BYTES
from models.tables import Branch, Member, Role
from models.vietnamese import text_key

COOKIE = "chibo_desk"
# The signed-in member's id in the request's scope, once ``desk_user`` has checked the session.
ACTOR_KEY = "chibo.desk_actor"
# What a desk form may send: a meeting's minutes or a notice's text run to tens of thousands of
# characters, each Vietnamese letter up to 9 bytes percent-encoded.
FORM_BYTES = 256 * 1024
# A form with a file (the register, a notice's file, a meeting's document): the file as large as the
# chat takes it (models.roster_files, models.notices, models.meetings: 20 MB), and the form with it.
FILE_BYTES = REGISTER_BYTES
UPLOAD_BYTES = FILE_BYTES + FORM_BYTES
# Starlette's own limit on the desk's routes (webhooks.desk.install): none that a browser would
# reach, so that a body over the desk's limits gets the desk's clear page, not a bare 413. The desk
# reads a body only for a signed-in member, with the CSRF form's limit (``form_within``) counted
# as it streams in, and a Content-Length over it refused before a byte is read.
ROUTE_BYTES = 1 << 40


class DeskRefusal(Exception):
    """Answered with a clear page and nothing else (``webhooks.desk.install`` renders it)."""

    def __init__(self, status: int, kind: str, **values: str) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind  # signed_out | not_allowed | csrf | link_<LinkRefusal> | not_found | too_large_*
        self.values = values  # what the page's lines name ({limit})


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
    request.scope[ACTOR_KEY] = member.id  # whom a refusal of this request is audited against
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


class _TooLarge(Exception):
    pass


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


async def _read_form(request: Request, limit: int) -> FormData:
    """The request's form, its body read up to ``limit`` bytes (``_TooLarge`` past it)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _TooLarge
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
        return message

    return await Request(request.scope, receive).form()


def form_within(limit: int, kind: str) -> Callable[[Request, DeskUser], Awaitable[FormData]]:
    """The dependency reading a POSTed form of at most ``limit`` bytes, once the session is checked
    (nothing is read without one), and checking its ``csrf`` field against the session's (403)."""

    async def checked_form(request: Request, user: DeskUserDep) -> FormData:
        try:
            form = await _read_form(request, limit)
        except _TooLarge:
            raise DeskRefusal(413, kind, limit=_size(limit if kind == "too_large_form" else FILE_BYTES)) from None
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
            raise DeskRefusal(403, "csrf")
        # PostgreSQL keeps no NUL in text: refused here, for every form, before anything is saved.
        if any(isinstance(value, str) and "\x00" in value for value in form.values()):
            raise DeskRefusal(422, "unreadable")
        return form

    return checked_form


check_csrf = form_within(FORM_BYTES, "too_large_form")
desk_form = check_csrf
DeskFormDep = Annotated[FormData, Depends(check_csrf)]
# A form with a file in it.
DeskUploadDep = Annotated[FormData, Depends(form_within(UPLOAD_BYTES, "too_large_file"))]
