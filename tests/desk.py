"""Helpers for the desk's tests: a browser signed in as a member, and its forms' CSRF token.

async with desk_client(app, member) as desk:
    page = await desk.get("/desk/overview")
    done = await desk.post("/desk/...", {"field": "value"})  # the csrf field added
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from fastapi import FastAPI

from bot.runtime import Runtime
from models.desk import issue_link
from models.tables import Member

_CSRF = re.compile(r'<meta name="csrf" content="([^"]+)">')


class DeskClient:
    """An httpx client holding a desk session's cookie (``client``), with ``post`` adding the CSRF field."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._csrf: str | None = None

    async def csrf(self) -> str:
        """The session's form token, as every page carries it."""
        if self._csrf is None:
            page = await self.client.get("/desk/overview")
            found = _CSRF.search(page.text)
            assert found is not None, f"no CSRF token on the overview ({page.status_code})"
            self._csrf = found.group(1)
        return self._csrf

    async def get(self, url: str, **options: Any) -> httpx.Response:
        return await self.client.get(url, **options)

    async def post(self, url: str, data: Mapping[str, Any] | None = None, **options: Any) -> httpx.Response:
        return await self.client.post(url, data={**(data or {}), "csrf": await self.csrf()}, **options)


def app_runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def anonymous_client(app: FastAPI) -> httpx.AsyncClient:
    """A browser with no session (the app served in-process)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test")


async def sign_in_link(app: FastAPI, member: Member | int) -> str:
    """A fresh one-time sign-in address for the member, as chibo sends it (path only)."""
    member_id = member if isinstance(member, int) else member.id
    assert member_id is not None
    async with app_runtime(app).sessions() as session, session.begin():
        token = await issue_link(session, member_id)
    return f"/desk/login/{token}"


@contextlib.asynccontextmanager
async def desk_client(app: FastAPI, member: Member | int) -> AsyncIterator[DeskClient]:
    """A browser signed in to the desk as ``member`` through a fresh one-time link."""
    async with anonymous_client(app) as client:
        opened = await client.post(await sign_in_link(app, member))
        assert opened.status_code == 303, f"signing in failed: {opened.status_code} {opened.text[:300]}"
        yield DeskClient(client)


async def seed_branch_activity(app: FastAPI) -> None:
    """Life in the demo commune's branch Trường (TRUONG), and a little in Đông (DONG), as the
    overview shows it: members on chibo, an open vote half voted, a meeting called with answers, a
    notice partly read, a message that could not be delivered, and two months of absences."""
    from datetime import timedelta

    from sqlmodel import col, select

    from models.audience import Audience
    from models.tables import (
        Attendance,
        Branch,
        ChannelIdentity,
        Meeting,
        MeetingInvitation,
        MeetingKind,
        MeetingStatus,
        Notice,
        NoticeRecipient,
        NoticeStatus,
        OutboxMessage,
        OutboxStatus,
        Platform,
        Poll,
        PollEligible,
        PollStatus,
        PollVoter,
        Rsvp,
        utcnow,
    )

    now = utcnow()
    async with app_runtime(app).sessions() as session, session.begin():
        branches = {b.code: b for b in (await session.exec(select(Branch))).all()}
        members = list((await session.exec(select(Member).order_by(col(Member.id)))).all())
        truong = [m for m in members if m.branch_id == branches["TRUONG"].id]
        dong = [m for m in members if m.branch_id == branches["DONG"].id]
        by_name = {m.full_name: m for m in members}
        for index, member in enumerate(truong[:5]):
            platform = (Platform.ZALO_BOT, Platform.TELEGRAM, Platform.WEB)[index % 3]
            session.add(
                ChannelIdentity(
                    platform=platform,
                    platform_user_id=f"u{member.id}",
                    chat_id=f"c{member.id}",
                    member_id=member.id or 0,
                )
            )
        session.add(
            ChannelIdentity(platform=Platform.ZALO_BOT, platform_user_id="d1", chat_id="d1", member_id=dong[0].id or 0)
        )
        by_name["Ngô Văn Phúc"].phone = "+84912345678"
        session.add(by_name["Ngô Văn Phúc"])
        poll = Poll(
            author_member_id=truong[0].id,
            question="Thông qua kế hoạch trồng cây đầu xuân",
            options=["Tán thành", "Không tán thành", "Ý kiến khác"],
            branches=[branches["TRUONG"].id or 0],
            status=PollStatus.OPEN,
            opened_at=now - timedelta(hours=2),
            deadline=now + timedelta(days=2),
        )
        dong_poll = Poll(
            author_member_id=dong[0].id,
            question="Biểu quyết riêng của thôn Đông",
            options=["Tán thành", "Không tán thành"],
            branches=[branches["DONG"].id or 0],
            status=PollStatus.OPEN,
            opened_at=now,
            deadline=now + timedelta(days=1),
        )
        session.add_all([poll, dong_poll])
        await session.flush()
        for index, member in enumerate(truong):
            session.add(PollEligible(poll_id=poll.id or 0, member_id=member.id or 0))
            if index < 4:
                session.add(PollVoter(poll_id=poll.id or 0, member_id=member.id or 0))
        audience = Audience(branches=(branches["TRUONG"].id or 0,)).to_json()
        meeting = Meeting(
            branch_id=branches["TRUONG"].id,
            author_member_id=truong[0].id,
            title="Sinh hoạt chi bộ định kỳ tháng 12",
            starts_at=now + timedelta(days=3),
            place="Phòng họp nhà trường",
            audience=audience,
            status=MeetingStatus.CALLED,
            called_at=now,
        )
        session.add(meeting)
        past = [
            Meeting(
                branch_id=branches["TRUONG"].id,
                title=f"Sinh hoạt chi bộ tháng {month}",
                kind=MeetingKind.REGULAR,
                starts_at=now - timedelta(days=31 * month),
                audience=audience,
                status=MeetingStatus.CALLED,
                attendance_confirmed_at=now - timedelta(days=31 * month),
            )
            for month in (1, 2)
        ]
        session.add_all(past)
        await session.flush()
        for index, member in enumerate(truong):
            rsvp = Rsvp.ATTENDING if index < 5 else (Rsvp.EXCUSED if index == 5 else None)
            session.add(MeetingInvitation(meeting_id=meeting.id or 0, member_id=member.id or 0, rsvp=rsvp))
        for old in past:
            session.add(
                MeetingInvitation(
                    meeting_id=old.id or 0, member_id=by_name["Vũ Đình Khoa"].id or 0, attendance=Attendance.ABSENT
                )
            )
        notice = Notice(
            author_member_id=truong[0].id,
            text="Kính gửi các đồng chí,\nLịch trực Tết Nguyên đán của nhà trường",
            audience=audience,
            status=NoticeStatus.SENT,
            sent_at=now - timedelta(days=1),
        )
        session.add(notice)
        await session.flush()
        for index, member in enumerate(truong):
            session.add(
                NoticeRecipient(
                    notice_id=notice.id or 0, member_id=member.id or 0, read_at=now if 0 < index < 4 else None
                )
            )
        session.add(
            OutboxMessage(
                platform=Platform.TELEGRAM,
                chat_id=f"c{truong[1].id}",
                body={"text": "…"},
                status=OutboxStatus.FAILED,
                member_id=truong[1].id,
                notice_id=notice.id,
                last_error="Forbidden: bot was blocked by the user",
            )
        )
