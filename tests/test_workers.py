"""`chibo serve` with CHIBO_WORKERS: several processes on one port, each a whole chibo, as they run
for real (the command in a process of its own, the fake Bot API over HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from bot.runtime import Runtime
from tests.conftest import TEST_BALLOT_KEY, _postgres_admin
from tests.fake_telegram import FakeTelegram
from tests.test_broadcast_process import (
    CLEAN_EXIT,
    FIRST_CHAT,
    RECIPIENTS,
    _env,
    _free_port,
    _queue_notice,
    _serve,
    _until,
    until_serving,
)
from tests.test_cli import run_chibo

RATE = 150  # CHIBO_BROADCAST_RATE of _env: the platform's budget, for both workers together


def _workers_of(pid: int) -> list[int]:
    """The workers `chibo serve` started (not multiprocessing's resource tracker beside them)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(child) for child in children.read_text().split()] if children.exists() else []
    return [child for child in found if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_workers_need_postgresql(tmp_path: Path) -> None:
    """On SQLite the pages waiting in one process would never hear of a message stored by another."""
    refused = run_chibo(
        "serve", env={"CHIBO_WORKERS": "2", "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"},
        cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "CHIBO_WORKERS above 1 needs PostgreSQL" in refused.stderr
    assert not (tmp_path / "c.db").exists()  # refused before anything was touched


async def test_two_workers_deliver_once_within_the_budget_and_poll_once(
    runtime: Runtime, fake_telegram: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("CHIBO_WORKERS above 1 needs PostgreSQL (tested above)")
    await _queue_notice(runtime, tmp_path, database_url)
    env = {**_env(database_url, fake_telegram), "CHIBO_WORKERS": "2", "CHIBO_METRICS_TOKEN": "scrape"}
    served = await _serve(env, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['CHIBO_PORT']}", timeout=30) as client:

            async def all_sent() -> bool:
                return len(fake_telegram.sent) >= RECIPIENTS

            await _until(all_sent, limit=90)
            assert (await client.get("/healthz")).status_code == 200
            # A member writes to the bot: the one worker that polls takes it, and it is answered once.
            await fake_telegram.push(fake_telegram.message_update(777, "/start"))
            await fake_telegram.wait_for(1, chat_id=777)
            # Whichever worker answers the scrape, it counts what all did (the first sent them, the
            # other answered the health checks); each scrape on a new connection, to either worker.
            counted = f'chibo_messages_sent_total{{platform="telegram"}} {RECIPIENTS + 1}.0'
            scrape = {"Authorization": "Bearer scrape", "Connection": "close"}

            async def sent_counted() -> bool:  # counted a moment after the fake has the message
                return counted in (await client.get("/metrics", headers=scrape)).text

            await _until(sent_counted)
            for _ in range(6):
                assert counted in (await client.get("/metrics", headers=scrape)).text
        assert len(_workers_of(served.pid)) == 2
    finally:
        served.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(served.wait(), 30) in CLEAN_EXIT
    logged = (tmp_path / "serve.log").read_text()
    assert logged.count("Application shutdown complete") == 2  # both workers stopped cleanly
    counts = Counter(m.chat_id for m in fake_telegram.sent if m.chat_id != 777)
    assert set(counts) == {FIRST_CHAT + i for i in range(RECIPIENTS)} and set(counts.values()) == {1}
    assert len([m for m in fake_telegram.sent if m.chat_id == 777]) == 1
    assert fake_telegram.overlapping_polls == 0  # a second poller would have overlapped the first's waits
    # One worker delivers: the budget holds without Redis, and each chat's messages keep their order.
    times = sorted(m.at for m in fake_telegram.sent if m.chat_id != 777)
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert busiest <= RATE * 1.1


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def _two_workers(database_url: str, tmp_path: Path) -> tuple[asyncio.subprocess.Process, int]:
    """`chibo serve` with two workers, the web chat alone, once it answers: the process and its port."""
    port = _free_port()
    served = await _serve(
        {"CHIBO_DATABASE_URL": database_url, "CHIBO_PORT": str(port), "CHIBO_WORKERS": "2",
         "CHIBO_BALLOT_KEY": TEST_BALLOT_KEY},
        tmp_path,
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        await until_serving(client)
    return served, port


async def test_workers_end_when_chibo_serve_is_killed(database_url: str, tmp_path: Path) -> None:
    """Was: `chibo serve` killed outright (SIGKILL, the OOM killer) left its workers serving on,
    unsupervised and holding the port, so a new `chibo serve` could not start."""
    if database_url.startswith("sqlite"):
        pytest.skip("CHIBO_WORKERS above 1 needs PostgreSQL (tested above)")
    served, _port = await _two_workers(database_url, tmp_path)
    children = _workers_of(served.pid)
    assert len(children) == 2
    served.kill()
    await served.wait()

    async def all_ended() -> bool:
        return not any(_running(child) for child in children)

    try:
        await _until(all_ended, limit=15)
    finally:
        for child in filter(_running, children):  # not left serving on the port if it failed
            os.kill(child, signal.SIGKILL)


async def _logged(log: Path, text: str, times: int) -> bool:
    return log.read_text().count(text) >= times  # noqa: ASYNC240 (a small file, read in a moment)


async def test_a_worker_that_cannot_start_again_is_retried_while_the_other_serves(
    database_url: str, tmp_path: Path
) -> None:
    """Was: a worker that died while the database refused connections could not start again, and
    that stopped `chibo serve` altogether (exit 3), the healthy worker with it (outside tester)."""
    if database_url.startswith("sqlite"):
        pytest.skip("CHIBO_WORKERS above 1 needs PostgreSQL (tested above)")
    name = make_url(database_url).database
    served, port = await _two_workers(database_url, tmp_path)
    log = tmp_path / "serve.log"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await _until(lambda: _logged(log, "Application startup complete", 2))
            first, second = _workers_of(served.pid)
            await _postgres_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                os.kill(first, signal.SIGKILL)
                # Its replacement cannot reach the database: it is tried again, the other serves on.
                await _until(lambda: _logged(log, "starting it again", 2))
                assert served.returncode is None and _running(second)
                assert (await client.get("/healthz")).status_code in (200, 503)  # answered, by the other
            finally:
                await _postgres_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await _until(lambda: _logged(log, "Application startup complete", 3))
            assert (await client.get("/healthz")).status_code == 200
    finally:
        served.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(served.wait(), 30) in CLEAN_EXIT


def _connections_held(pid: int, port: int) -> int:
    """How many established connections to ``port`` process ``pid`` holds (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rpartition(":")[2], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
            inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            held += os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes
    return held


async def test_two_workers_share_the_pages_that_connect_at_once(database_url: str, tmp_path: Path) -> None:
    """Was: the workers accepted from one socket, and whichever woke first took every connection
    waiting; a page keeps its connection, so 200 pages opened together split 130 to 70 and the busier
    worker's queue set everyone's wait (bench/webchat.py). Each worker now listens on a socket of its
    own on the port and the kernel spreads the connections between them."""
    if database_url.startswith("sqlite"):
        pytest.skip("CHIBO_WORKERS above 1 needs PostgreSQL (tested above)")
    served, port = await _two_workers(database_url, tmp_path)
    pages: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        await _until(lambda: _logged(tmp_path / "serve.log", "Application startup complete", 2))
        pages = list(await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(64))))
        for _reader, writer in pages:  # each connection answered, so it has been accepted
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: chibo\r\n\r\n")
        for reader, _writer in pages:
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        held = [_connections_held(worker, port) for worker in _workers_of(served.pid)]
        assert sum(held) == 64 and min(held) >= 16, held  # a quarter or more each (was: 64 and 0 at worst)
        # A second `chibo serve` on the port is refused at once, not let in beside the first's workers.
        env = {"CHIBO_DATABASE_URL": database_url, "CHIBO_PORT": str(port), "CHIBO_WORKERS": "2"}
        second = await asyncio.to_thread(run_chibo, "serve", env=env, cwd=tmp_path)
        assert second.returncode == 3 and "Address already in use" in second.stderr, second.stderr
    finally:
        for _reader, writer in pages:
            writer.close()
        served.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(served.wait(), 30) in CLEAN_EXIT
