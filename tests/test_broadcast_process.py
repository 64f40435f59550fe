"""The broadcast engine as it runs for real: `chibo serve` in its own process, killed or stopped
mid-broadcast and started again, against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import select

from bot.delivery import CONCURRENCY, FLUSH_ROWS
from bot.runtime import Runtime
from models.tables import OutboxMessage, OutboxStatus
from tests.conftest import TELEGRAM_TOKEN, TEST_BALLOT_KEY
from tests.fake_telegram import FakeTelegram
from tests.test_cli import run_chibo
from tests.test_notices import big_branch

# uvicorn shuts down cleanly on SIGTERM, then exits by the signal it caught.
CLEAN_EXIT = (0, -signal.SIGTERM)
RECIPIENTS = 400
FIRST_CHAT = 30_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, fake: FakeTelegram) -> dict[str, str]:
    return {
        "CHIBO_DATABASE_URL": database_url,
        "CHIBO_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "CHIBO_TELEGRAM_API_BASE": fake.url,
        "CHIBO_PORT": str(_free_port()),
        "CHIBO_BROADCAST_RATE": "150",
        "CHIBO_DELIVERY_LEASE_SECONDS": "2",
    }


async def _serve(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHIBO_")}
    log = (cwd / "serve.log").open("a")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", env={**clean, **env}, cwd=cwd, stdout=log, stderr=log,
    )  # fmt: skip


async def _until(condition: Callable[[], Awaitable[bool]], limit: float = 60.0) -> None:
    """Wait for another process to get somewhere (a deadline, not a delay)."""
    async with asyncio.timeout(limit):
        while not await condition():  # noqa: ASYNC110 (the state is in another process)
            await asyncio.sleep(0.05)


async def until_serving(client: httpx.AsyncClient) -> None:
    """Wait for a `chibo serve` started in another process to answer its health check."""

    async def serving() -> bool:
        try:
            return (await client.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await _until(serving)


async def _queue_notice(runtime: Runtime, tmp_path: Path, database_url: str) -> None:
    await big_branch(runtime, RECIPIENTS, FIRST_CHAT)
    notice = tmp_path / "notice.txt"
    notice.write_text("Thông báo khẩn: họp chi bộ tối nay.", encoding="utf-8")
    queued = await asyncio.to_thread(
        run_chibo, "announce", "--branch", "LON", "--file", str(notice), "--no-wait",
        env={"CHIBO_DATABASE_URL": database_url}, cwd=tmp_path,
    )  # fmt: skip
    assert queued.returncode == 0 and f"queued for {RECIPIENTS} member(s)" in queued.stdout, queued.stderr


async def _finish(runtime: Runtime, fake: FakeTelegram, env: dict[str, str], cwd: Path) -> None:
    """Start chibo again and let it complete the broadcast, then stop it cleanly."""

    async def all_sent() -> bool:
        async with runtime.sessions() as session:
            pending = (
                await session.exec(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)
                )
            ).one()
        return pending == 0

    again = await _serve(env, cwd)
    try:
        await _until(all_sent, limit=90)
    finally:
        again.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.wait(), 30) in CLEAN_EXIT


async def test_killed_mid_broadcast_it_resumes_and_nobody_is_lost(
    runtime: Runtime, fake_telegram: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    await _queue_notice(runtime, tmp_path, database_url)
    env = _env(database_url, fake_telegram)
    first = await _serve(env, tmp_path)

    async def some_sent() -> bool:
        return len(fake_telegram.sent) >= RECIPIENTS // 4

    await _until(some_sent)
    first.kill()  # SIGKILL: no chance to record anything
    await first.wait()
    await _finish(runtime, fake_telegram, env, tmp_path)
    counts = Counter(m.chat_id for m in fake_telegram.sent)
    assert set(counts) == {FIRST_CHAT + i for i in range(RECIPIENTS)}  # nobody lost
    twice = [chat for chat, n in counts.items() if n > 1]
    # Only what was on the wire or sent-but-not-yet-recorded at the kill can go twice.
    assert len(twice) <= FLUSH_ROWS + CONCURRENCY and max(counts.values()) <= 2


async def test_stopped_cleanly_mid_broadcast_it_sends_nothing_twice(
    runtime: Runtime, fake_telegram: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    await _queue_notice(runtime, tmp_path, database_url)
    env = _env(database_url, fake_telegram)
    first = await _serve(env, tmp_path)

    async def some_sent() -> bool:
        return len(fake_telegram.sent) >= RECIPIENTS // 4

    await _until(some_sent)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 30) in CLEAN_EXIT
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
    assert len(fake_telegram.sent) < RECIPIENTS  # it really stopped mid-way
    await _finish(runtime, fake_telegram, env, tmp_path)
    counts = Counter(m.chat_id for m in fake_telegram.sent)
    assert set(counts) == {FIRST_CHAT + i for i in range(RECIPIENTS)}
    assert set(counts.values()) == {1}


async def test_demo_stops_on_sigterm_within_8_s_while_a_web_chat_page_waits(tmp_path: Path) -> None:
    """Was: a web chat page's long poll (25 s) held uvicorn's graceful shutdown: `chibo demo` (and
    `chibo serve`) outlived SIGTERM by that long; then it was cut off after 3 s, a 500 to the page
    and an error in the log (outside tester). Now the waiting page is answered as the stop begins."""
    port = _free_port()
    env = {
        "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "CHIBO_PORT": str(port),
        "CHIBO_BALLOT_KEY": TEST_BALLOT_KEY,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHIBO_")}
    log = (tmp_path / "demo.log").open("a")
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", env={**clean, **env}, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until_serving(client)
            token = (await client.post("/api/webchat/session")).json()["token"]
            waiting = asyncio.create_task(
                client.get("/api/webchat/inbox", params={"wait": "true"}, headers={"Authorization": f"Bearer {token}"})
            )
            assert (await client.get("/healthz")).status_code == 200  # answered after the poll was taken in
            assert not waiting.done()
            demo.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(demo.wait(), 8) in CLEAN_EXIT
            answered = await waiting
            assert answered.status_code == 200 and answered.json() == {"messages": []}
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    logged = (tmp_path / "demo.log").read_text()
    assert "Application shutdown complete" in logged and "graceful shutdown exceeded" not in logged
