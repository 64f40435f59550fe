"""Running chibo for years: backups that restore, upgrades that keep every row, the move from SQLite
to PostgreSQL, the alerts, and two replicas sharing one webhook stream."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client import generate_latest
from sqlalchemy import Connection, func, inspect
from sqlalchemy import select as core_select
from sqlmodel import SQLModel, select

from bot.dbops import (
    OperationError,
    backup,
    check_pg_client,
    copy_database,
    copy_rows,
    pending_migrations,
    previous_revision,
    restore,
)
from bot.delivery import ALERT_FAILURES, ChannelWatch, DeliveryWorker, Sender, Transient
from bot.demo import seed_demo
from bot.i18n import Catalogs
from bot.metrics import Metrics, observe_database
from bot.migrate import upgrade
from bot.runtime import Runtime
from handlers.contract import Reply
from handlers.meetings import messages_maker
from handlers.notices import notice_body_maker
from handlers.polls import ballot_maker
from models.db import create_engine, session_factory
from models.invites import issue_unlinked_invites
from models.meetings import call
from models.meetings import create_draft as create_meeting
from models.notices import Audience, create_draft, send_now
from models.permissions import OPERATOR
from models.polls import create_draft as create_poll
from models.polls import publish, vote
from models.tables import (
    ChannelIdentity,
    Member,
    OutboxMessage,
    OutboxStatus,
    Platform,
    ProcessedUpdate,
    Role,
    ZaloOaToken,
    utcnow,
)
from tests.conftest import (
    _POSTGRES_SKIP,
    TELEGRAM_TOKEN,
    Demo,
    _postgres_admin,
    _postgres_url,
    make_settings,
    serve_app,
)
from tests.fake_telegram import FakeTelegram
from tests.test_cli import run_chibo
from webhooks.app import create_app

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
Snapshot = dict[str, list[tuple[Any, ...]]]


# --- helpers --------------------------------------------------------------------------------------


async def fill(url: str) -> None:
    """The demo commune as a release leaves it after some use: members linked on Telegram, invite
    codes, a notice, a poll with a vote, a meeting with its reminders, the Zalo OA's tokens."""
    engine = create_engine(url)
    catalogs = Catalogs("vi")
    try:
        secret = make_settings(url).ballot_secret  # invite codes are stored keyed by it
        async with session_factory(engine, ballot_secret=secret)() as session, session.begin():
            await seed_demo(session)
            await issue_unlinked_invites(session)
            members = list((await session.exec(select(Member).order_by(Member.id))).all())  # type: ignore[arg-type]
            for number, member in enumerate(members[:6]):
                chat = str(5000 + number)
                assert member.id is not None
                linked = ChannelIdentity(platform=Platform.TELEGRAM, platform_user_id=chat, chat_id=chat, member_id=0)
                linked.member_id = member.id
                session.add(linked)
            session.add(ProcessedUpdate(platform=Platform.TELEGRAM, update_key="41"))
            session.add(
                ZaloOaToken(
                    app_id="4321",
                    access_token="access-token",
                    refresh_token="the only valid refresh token",
                    previous_refresh_token="the one before",
                    expires_at=utcnow() + timedelta(hours=20),
                )
            )
            await session.flush()
            notice = await create_draft(session, OPERATOR, "Họp chi bộ ngày 5/12.", Audience(None))
            await send_now(session, OPERATOR, notice, notice_body_maker(catalogs))
            poll = await create_poll(session, OPERATOR, "Thông qua nghị quyết?", None, utcnow() + timedelta(days=2))
            await publish(session, OPERATOR, poll, ballot_maker(catalogs, TZ))
            assert poll.id is not None
            await vote(session, poll.id, members[0], 0b1)
            meeting = await create_meeting(
                session, OPERATOR, title="Sinh hoạt chi bộ", starts_at=utcnow() + timedelta(days=3), branch_id=1
            )
            await call(session, OPERATOR, meeting, messages_maker(catalogs, TZ))
    finally:
        await engine.dispose()


def _read_all(connection: Connection, only: dict[str, set[str]] | None) -> Snapshot:
    present = set(inspect(connection).get_table_names())
    snapshot: Snapshot = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in present or (only is not None and table.name not in only):
            continue
        columns = [c for c in table.columns if only is None or c.name in only[table.name]]
        order = list(table.primary_key.columns) or columns
        snapshot[table.name] = [tuple(row) for row in connection.execute(core_select(*columns).order_by(*order))]
    return snapshot


async def snapshot(url: str, only: dict[str, set[str]] | None = None) -> Snapshot:
    """Every row of every chibo table (the columns in ``only``, when given), by primary key."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_all, only)
    finally:
        await engine.dispose()


def _column_names(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {name: {c["name"] for c in inspector.get_columns(name)} for name in inspector.get_table_names()}


async def column_names(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_column_names)
    finally:
        await engine.dispose()


async def empty_database(like: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new database with nothing in it, on the same server as ``like``."""
    if like.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / f'empty-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"chibo_ops_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _postgres_url(name)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    async for url in empty_database(database_url, tmp_path):
        yield url


async def _needs_pg_tools(url: str) -> None:
    if url.startswith("postgresql"):
        try:
            await check_pg_client(url)
        except OperationError as error:
            pytest.skip(str(error))


# --- backups --------------------------------------------------------------------------------------


async def test_a_backup_restores_into_an_empty_database_with_every_row(
    database_url: str, empty_url: str, tmp_path: Path
) -> None:
    await _needs_pg_tools(database_url)
    await fill(database_url)
    before = await snapshot(database_url)
    file = tmp_path / "chibo-backup"

    made = run_chibo("backup", str(file), env={"CHIBO_DATABASE_URL": database_url}, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert file.exists() and not file.with_name(file.name + ".partial").exists()
    restored = run_chibo("restore", str(file), env={"CHIBO_DATABASE_URL": empty_url}, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr

    after = await snapshot(empty_url)
    assert after == before  # members, invites, notices, polls, meetings, the outbox, the OA's tokens
    assert len(after["member"]) == 30 and len(after["notice"]) == 1 and len(after["poll"]) == 1
    assert after["zalooatoken"][0][2] == "the only valid refresh token"
    # The restored database serves: a new notice gets the next id, and nothing is pending a migration.
    assert not (await pending_migrations(empty_url)).revisions
    engine = create_engine(empty_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            notice = await create_draft(session, OPERATOR, "Sau khi khôi phục.", Audience(None))
        assert notice.id == before["notice"][-1][0] + 1
    finally:
        await engine.dispose()

    # Restoring over a database in use is refused, and it is left as it was.
    again = run_chibo("restore", str(file), env={"CHIBO_DATABASE_URL": empty_url}, cwd=tmp_path)
    assert again.returncode == 1 and "needs an empty database" in again.stderr, again.stderr
    assert len((await snapshot(empty_url))["notice"]) == 2


async def test_a_sqlite_backup_taken_while_chibo_writes_is_consistent(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "serving.db")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'serving.db'}"
    await fill(database_url)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        gone = OutboxMessage(platform=Platform.TELEGRAM, chat_id="2", body=Reply("deleted-row-marker").to_dict())
        session.add(gone)
    async with session_factory(engine)() as session, session.begin():
        await session.delete(await session.get(OutboxMessage, gone.id))
    writing = asyncio.Event()

    async def keep_writing(stop: asyncio.Event) -> None:
        async with session_factory(engine)() as session:
            while not stop.is_set():
                async with session.begin():
                    session.add(OutboxMessage(platform=Platform.TELEGRAM, chat_id="1", body=Reply("x").to_dict()))
                writing.set()
                await asyncio.sleep(0)

    stop = asyncio.Event()
    writer = asyncio.create_task(keep_writing(stop))
    try:
        await writing.wait()
        await backup(database_url, tmp_path / "live.db")
    finally:
        stop.set()
        await writer
        await engine.dispose()
    taken = await snapshot(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}")
    outbox_ids = [row[0] for row in taken["outboxmessage"]]
    assert outbox_ids == list(range(1, len(outbox_ids) + 1))  # a prefix of the writes, no gaps
    assert len(taken["member"]) == 30
    # A deleted row leaves no trace in the backup's free pages (DESIGN.md §4: whoever holds a backup).
    assert b"deleted-row-marker" not in (tmp_path / "live.db").read_bytes()


# --- upgrades -------------------------------------------------------------------------------------


async def test_upgrading_a_database_of_the_previous_release_keeps_every_row(
    database_url: str, empty_url: str, tmp_path: Path
) -> None:
    # The previous release's database: the schema one migration before the newest, filled the way
    # that release was used (the rows are made at the newest schema and copied in, keeping the
    # columns the older schema has).
    await fill(database_url)
    old = previous_revision(empty_url)
    await upgrade(empty_url, old)
    source, target = create_engine(database_url), create_engine(empty_url)
    try:
        await copy_rows(source, target)
    finally:
        await source.dispose()
        await target.dispose()
    columns = await column_names(empty_url)
    before = await snapshot(empty_url, columns)
    assert sum(len(rows) for rows in before.values()) > 100

    check = run_chibo("db", "upgrade", "--check", env={"CHIBO_DATABASE_URL": empty_url}, cwd=tmp_path)
    pending = await pending_migrations(empty_url)
    assert check.returncode == 1 and pending.current == old, check.stdout
    assert [revision for revision, _ in pending.revisions] and all(
        revision in check.stdout for revision, _ in pending.revisions
    )

    await upgrade(empty_url)
    after = await snapshot(empty_url, columns)
    for table, rows in before.items():
        assert after.get(table) == rows, table
    done = run_chibo("db", "upgrade", "--check", env={"CHIBO_DATABASE_URL": empty_url}, cwd=tmp_path)
    assert done.returncode == 0 and "nothing would run" in done.stdout, done.stdout


# --- from SQLite to PostgreSQL --------------------------------------------------------------------


async def test_db_copy_moves_a_sqlite_commune_to_postgresql(sqlite_template: Path, tmp_path: Path) -> None:
    if _POSTGRES_SKIP:
        pytest.skip(_POSTGRES_SKIP)
    shutil.copyfile(sqlite_template, tmp_path / "commune.db")
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'commune.db'}"
    await fill(sqlite_url)
    before = await snapshot(sqlite_url)
    async for postgres_url in empty_database("postgresql", tmp_path):
        copied = run_chibo("db", "copy", "--to", postgres_url, env={"CHIBO_DATABASE_URL": sqlite_url}, cwd=tmp_path)
        assert copied.returncode == 0, copied.stderr
        assert "member: 30" in copied.stdout
        assert await snapshot(postgres_url) == before

        # The sequences were moved past the copied ids: new rows get new ids.
        engine = create_engine(postgres_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                member = Member(branch_id=1, full_name="Đảng viên mới")
                session.add(member)
                await session.flush()
        finally:
            await engine.dispose()
        assert member.id == max(row[0] for row in before["member"]) + 1

        with pytest.raises(OperationError, match="needs an empty database"):
            await copy_database(sqlite_url, postgres_url)

    # A SQLite backup restores into PostgreSQL the same way.
    await backup(sqlite_url, tmp_path / "commune.backup")
    async for postgres_url in empty_database("postgresql", tmp_path):
        await restore(postgres_url, tmp_path / "commune.backup")
        assert await snapshot(postgres_url) == before


# --- alerts ---------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        self.sent.append((chat_id, reply.text))


class Broken:
    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        raise Transient("503 Service Unavailable")


async def _queue(runtime: Runtime, platform: Platform, chats: list[str]) -> None:
    async with runtime.sessions() as session, session.begin():
        for chat in chats:
            session.add(OutboxMessage(platform=platform, chat_id=chat, body=Reply("Thông báo").to_dict()))


async def test_the_commune_secretary_is_told_once_a_day_when_a_channel_stops_delivering(
    runtime: Runtime, demo: Demo
) -> None:
    clock = [utcnow()]
    async with runtime.sessions() as session, session.begin():
        secretary = (
            await session.exec(select(Member).where(Member.committee_role == Role.SECRETARY))
        ).one()
        assert secretary.id is not None
        for platform in (Platform.TELEGRAM, Platform.ZALO_BOT):
            session.add(
                ChannelIdentity(platform=platform, platform_user_id="77", chat_id="77", member_id=secretary.id)
            )
    telegram = Recorder()

    def worker() -> DeliveryWorker:
        # A process of its own: its own counts, the database's memory of the last alert. A failed
        # message waits an hour before its next attempt, so each message below fails once.
        watch = ChannelWatch(runtime.sessions, runtime.catalogs, clock=lambda: clock[0])
        senders: dict[Platform, Sender] = {Platform.TELEGRAM: telegram, Platform.ZALO_BOT: Broken()}
        return DeliveryWorker(runtime.sessions, senders, runtime.metrics, backoff=lambda _: 3600.0, watch=watch)

    async def fail_on_zalo(worker: DeliveryWorker, count: int) -> None:
        await _queue(runtime, Platform.ZALO_BOT, [f"{uuid.uuid4().hex[:8]}" for _ in range(count)])
        await worker.drain_once()  # the Zalo messages fail; an alert, if any, is queued for Telegram
        await worker.drain_once()  # and sent

    first = worker()
    await fail_on_zalo(first, ALERT_FAILURES - 1)
    assert telegram.sent == []  # nine failures: not yet

    await fail_on_zalo(first, 1)
    assert len(telegram.sent) == 1
    chat, text = telegram.sent[0]
    assert chat == "77" and "chibo không gửi được tin nhắn qua Zalo" in text and "10 lần gửi thất bại" in text

    # Within the day, neither this process nor another tells them again.
    second = worker()
    await fail_on_zalo(first, ALERT_FAILURES)
    await fail_on_zalo(second, ALERT_FAILURES)
    assert len(telegram.sent) == 1

    clock[0] += timedelta(days=1, minutes=1)
    third = worker()
    await fail_on_zalo(third, ALERT_FAILURES)
    assert len(telegram.sent) == 2
    assert runtime.metrics.channel_alerts.labels("zalo_bot")._value.get() == 2


async def test_a_channel_that_still_delivers_raises_no_alert(runtime: Runtime, demo: Demo) -> None:
    watch = ChannelWatch(runtime.sessions, runtime.catalogs)
    watch.delivered(Platform.ZALO_OA)
    for _ in range(3 * ALERT_FAILURES):
        assert not await watch.failed(Platform.ZALO_OA)  # some members refuse, the channel works


async def test_metrics_say_what_an_operator_must_know(runtime: Runtime, demo: Demo) -> None:
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        for minutes in (5, 2):
            session.add(
                OutboxMessage(
                    platform=Platform.ZALO_OA,
                    chat_id="8",
                    body=Reply("x").to_dict(),
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        session.add(
            ZaloOaToken(
                app_id="4321",
                refresh_token="r",
                expires_at=now + timedelta(hours=1),
                updated_at=now - timedelta(hours=23),
            )
        )
    metrics = Metrics()
    await observe_database(metrics, runtime.sessions, now=now)
    text = generate_latest(metrics.registry).decode()
    assert 'chibo_outbox_pending{platform="zalo_oa"} 2.0' in text
    assert 'chibo_outbox_pending{platform="telegram"} 0.0' in text
    assert 'chibo_outbox_oldest_seconds{platform="zalo_oa"} 300.0' in text
    assert 'chibo_zalo_oa_token_expires_seconds{app_id="4321"} 3600.0' in text
    assert 'chibo_zalo_oa_token_refreshed_seconds{app_id="4321"} 82800.0' in text
    assert "chibo_meeting_jobs_overdue_seconds 0.0" in text


# --- a province: two replicas ---------------------------------------------------------------------

SECRET = "replica-secret-1"


async def _post_until_accepted(client: httpx.AsyncClient, update: dict[str, Any]) -> None:
    """As Telegram does: deliver again until it is acknowledged with a 2xx."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(200):
        if (await client.post("/webhooks/telegram", json=update, headers=headers)).status_code == 200:
            return
        await asyncio.sleep(0.05)  # 503: the database was busy; Telegram retries later
    raise AssertionError(f"update {update['update_id']} was never accepted")


async def test_two_replicas_share_one_webhook_stream_and_handle_nothing_twice(
    database_url: str, demo: Demo, fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(
        database_url,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_base=fake_telegram.url,
        telegram_mode="webhook",
        public_url="https://chibo.example.org",
        webhook_secret=SECRET,
    )
    names = list(demo.invites)[:12]
    updates = [fake_telegram.message_update(9000 + n, f"/start {demo.code(name)}") for n, name in enumerate(names)]
    async with contextlib.AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = []
        for _ in range(2):  # two `chibo serve` replicas: each its own engine, delivery worker and scheduler
            sqlite = database_url.startswith("sqlite")
            engine = create_engine(database_url, connect_args={"timeout": 10} if sqlite else {})
            stack.push_async_callback(engine.dispose)
            app = create_app(settings, engine=engine, migrate=False)
            live = await stack.enter_async_context(contextlib.asynccontextmanager(serve_app)(app))
            clients.append(await stack.enter_async_context(httpx.AsyncClient(base_url=live.url, timeout=30)))
        # The load balancer sends each update to one replica; Telegram, not hearing back in time,
        # delivers it again, and this time it lands on the other one. Both at once, too.
        await asyncio.gather(
            *(_post_until_accepted(clients[n % 2], update) for n, update in enumerate(updates)),
            *(_post_until_accepted(clients[(n + 1) % 2], update) for n, update in enumerate(updates)),
        )
        await fake_telegram.wait_for(len(updates))
        sessions = session_factory(engine)

        async def outbox() -> list[str]:
            async with sessions() as session:
                return list((await session.exec(select(OutboxMessage.status))).all())

        async with asyncio.timeout(60):  # both workers record what they sent within 0.1 s
            while True:
                if set(await outbox()) == {OutboxStatus.SENT}:
                    break
                await asyncio.sleep(0.05)
        async with sessions() as session:
            handled = (await session.exec(select(func.count()).select_from(ProcessedUpdate))).one()
            linked = (await session.exec(select(func.count()).select_from(ChannelIdentity))).one()
        assert handled == len(updates) and linked == len(updates) and len(await outbox()) == len(updates)
        assert sorted(m.chat_id for m in fake_telegram.sent) == [9000 + n for n in range(len(updates))]
        assert all("Chào mừng đồng chí" in m.text for m in fake_telegram.sent)


def test_the_scheduler_reports_how_late_it_started_a_job() -> None:
    from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.metrics import watch_scheduler

    scheduler = AsyncIOScheduler()
    metrics = Metrics()
    watch_scheduler(metrics, scheduler)
    late = utcnow() - timedelta(seconds=30)
    scheduler._dispatch_event(JobSubmissionEvent(EVENT_JOB_SUBMITTED, "job", None, [late]))
    assert metrics.scheduler_lag_seconds._value.get() >= 30

