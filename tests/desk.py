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
