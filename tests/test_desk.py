"""The secretary's desk: signing in with a one-time link, the permission matrix, the pages."""

from __future__ import annotations

from fastapi import FastAPI

from tests.conftest import Demo, member_named
from tests.desk import anonymous_client, app_runtime, desk_client


async def test_a_secretary_signs_in_and_sees_the_overview(desk_app: FastAPI, demo: Demo) -> None:
    secretary = await member_named(app_runtime(desk_app), "Võ Thị Thanh")
    async with desk_client(desk_app, secretary) as desk:
        page = await desk.get("/desk/overview")
        assert page.status_code == 200 and "Tổng quan" in page.text
        assert len(await desk.csrf()) > 20
    async with anonymous_client(desk_app) as stranger:
        refused = await stranger.get("/desk/overview")
        assert refused.status_code == 401 and "Tổng quan" not in refused.text
