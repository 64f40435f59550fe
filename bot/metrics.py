"""Prometheus metrics, one registry per running app so tests and replicas never share counters.

Counters count what this process did; with `chibo serve`'s workers (CHIBO_WORKERS), what all of
them did (prometheus_client's multiprocess mode, in the directory the server names in
PROMETHEUS_MULTIPROC_DIR), so a scrape answered by any worker gives the same sums. The gauges of
what an operator must watch (the outbox, the Zalo OA token, overdue meeting jobs) are read from
the database at each scrape, so every replica reports the same values; alert on their max()
(deploy/alerts.yml)."""

from __future__ import annotations

from datetime import datetime

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event, func
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import is_database_unavailable
from models.tables import JobState, MeetingJob, OutboxMessage, OutboxStatus, Platform, ZaloOaToken, utcnow

# prometheus_client takes its files' directory only from this variable, read as it is imported.
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
PUSH_PLATFORMS = (Platform.TELEGRAM, Platform.ZALO_BOT, Platform.ZALO_OA)


class Metrics:
    def __init__(self, *, together: bool = False) -> None:
        """``together``: one of `chibo serve`'s workers, whose scrape reports all of them."""
        self.together = together
        self.registry = CollectorRegistry()
        self.updates_received = Counter(
            "chibo_updates_received", "Inbound updates received", ["platform"], registry=self.registry
        )
        self.updates_handled = Counter(
            "chibo_updates_handled",
            "Inbound updates handled and committed",
            ["platform"],
            registry=self.registry,
        )
        self.updates_rejected = Counter(
            "chibo_updates_rejected",
            "Inbound updates refused or not handled",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "chibo_handler_seconds",
            "Time to handle one update, transaction included",
            ["platform"],
            registry=self.registry,
        )
        self.updates_per_commit = Histogram(
            "chibo_updates_per_commit",
            "Updates committed together by one group commit (PostgreSQL)",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.messages_sent = Counter(
            "chibo_messages_sent", "Outbound messages delivered", ["platform"], registry=self.registry
        )
        self.messages_failed = Counter(
            "chibo_messages_failed",
            "Outbound messages given up on",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chibo_rate_limited",
            "Times a platform answered 429 (its chat waits retry_after)",
            ["platform"],
            registry=self.registry,
        )
        self.rate_cuts = Counter(
            "chibo_rate_cuts",
            "Times 429s from many chats at once paused a platform and halved its sending rate",
            ["platform"],
            registry=self.registry,
        )
        self.channel_alerts = Counter(
            "chibo_channel_alerts",
            "Times the commune's secretaries were told in chat that a channel stopped delivering",
            ["platform"],
            registry=self.registry,
        )
        self.database_errors = Counter(
            "chibo_database_errors",
            "Database errors: 'unavailable' (connection lost or refused, timeouts) or 'statement'",
            ["kind"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "chibo_outbox_pending",
            "Messages waiting in the outbox",
            ["platform"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.outbox_oldest_seconds = Gauge(
            "chibo_outbox_oldest_seconds",
            "Age of the oldest message waiting in the outbox (0 when none waits)",
            ["platform"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.zalo_oa_token_expires_seconds = Gauge(
            "chibo_zalo_oa_token_expires_seconds",
            "Seconds until the Zalo OA access token expires (negative: expired, refreshing fails)",
            ["app_id"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.zalo_oa_token_refreshed_seconds = Gauge(
            "chibo_zalo_oa_token_refreshed_seconds",
            "Seconds since the Zalo OA tokens were last refreshed (the refresh token dies unused for months)",
            ["app_id"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.meeting_jobs_overdue_seconds = Gauge(
            "chibo_meeting_jobs_overdue_seconds",
            "How long the oldest due meeting reminder or job has waited to be run (0 when none)",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.scheduler_lag_seconds = Gauge(
            "chibo_scheduler_lag_seconds",
            "How late the scheduler started its latest job (with workers: the most late of them)",
            registry=self.registry,
            multiprocess_mode="livemax",  # with workers: the most late of those running
        )

    def exposition(self) -> bytes:
        """The text a scrape gets: this registry's, or with workers every worker's files together."""
        if self.together:
            together = CollectorRegistry()
            MultiProcessCollector(together)  # type: ignore[no-untyped-call]  # not annotated upstream
            return generate_latest(together)
        return generate_latest(self.registry)


def count_database_errors(metrics: Metrics, engine: AsyncEngine) -> None:
    """Count every error the engine sees, by whether the database was unreachable."""

    def on_error(context: ExceptionContext) -> None:
        error = context.original_exception
        unavailable = context.is_disconnect or is_database_unavailable(error)
        metrics.database_errors.labels("unavailable" if unavailable else "statement").inc()

    event.listen(engine.sync_engine, "handle_error", on_error)


async def observe_database(
    metrics: Metrics, sessions: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> None:
    """Set the gauges read from the database; called at each scrape of /metrics."""
    now = now or utcnow()
    async with sessions() as session:
        waiting = (
            await session.exec(
                select(OutboxMessage.platform, func.count(), func.min(OutboxMessage.created_at))
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .group_by(OutboxMessage.platform)
            )
        ).all()
        tokens = (await session.exec(select(ZaloOaToken.app_id, ZaloOaToken.expires_at, ZaloOaToken.updated_at))).all()
        overdue = (
            await session.exec(
                select(func.min(MeetingJob.due_at)).where(
                    MeetingJob.state == JobState.PENDING, col(MeetingJob.due_at) <= now
                )
            )
        ).one()
    found = {platform: (count, oldest) for platform, count, oldest in waiting}
    for platform in {*PUSH_PLATFORMS, *found}:
        count, oldest = found.get(platform, (0, None))
        metrics.outbox_pending.labels(str(platform)).set(count)
        metrics.outbox_oldest_seconds.labels(str(platform)).set(_seconds_since(oldest, now))
    for app_id, expires_at, updated_at in tokens:
        if expires_at is not None:
            metrics.zalo_oa_token_expires_seconds.labels(app_id).set(-_seconds_since(expires_at, now))
        metrics.zalo_oa_token_refreshed_seconds.labels(app_id).set(_seconds_since(updated_at, now))
    metrics.meeting_jobs_overdue_seconds.set(_seconds_since(overdue, now))


def _seconds_since(moment: datetime | str | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if isinstance(moment, str):  # an aggregate on SQLite comes back as its stored text
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return (now - moment).total_seconds()


def watch_scheduler(metrics: Metrics, scheduler: BaseScheduler) -> None:
    """Record how late APScheduler starts each job (a busy or starved event loop shows here first)."""

    def on_submitted(submitted: JobSubmissionEvent) -> None:
        planned = max(submitted.scheduled_run_times or [], default=None)
        if planned is not None:
            metrics.scheduler_lag_seconds.set(max(0.0, _seconds_since(planned, utcnow())))

    scheduler.add_listener(on_submitted, EVENT_JOB_SUBMITTED)
