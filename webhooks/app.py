"""The FastAPI app: built by a factory, everything long-lived started and stopped in one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import mimetypes
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from html import escape
from pathlib import Path
from string import Template
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels import web
from bot.channels.base import Channel, Connection, Refused, Unavailable, Webhook
from bot.channels.registry import CHANNELS
from bot.delivery import ChannelWatch, DeliveryWorker, Sender
from bot.metrics import count_database_errors, observe_database, watch_scheduler
from bot.migrate import upgrade
from bot.ratelimit import LocalRateLimiter, RedisRateLimiter
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.contract import Attachment, Inbound
from handlers.meetings import messages_maker
from handlers.notices import notice_body_maker
from handlers.polls import results_maker
from models import audit
from models.audit import AuditAction
from models.db import DATABASE_UNAVAILABLE, is_database_unavailable
from models.invites import invite_lockout, normalize_code, record_attempt
from models.meetings import may_see
from models.notices import may_read_notice_file, web_member
from models.roster_files import MAX_BYTES
from models.tables import MAX_ID, Meeting, MeetingFile, NoticeFile, Platform, utcnow
from scheduler.meetings import MeetingJobs
from scheduler.runner import create_scheduler
from webhooks.security import HardenedFastAPI, limit_new_sessions

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Request bodies are limited while they stream in, before anything parses or authenticates them
# (413): a platform update, a web chat message (4,096 characters, each up to 6 bytes as JSON), any
# other request; the web chat's file upload is allowed models.roster_files.MAX_BYTES, once its
# session is checked.
MAX_UPDATE_BYTES = 1_000_000
WEB_MESSAGE_BYTES = 32_768
DEFAULT_BODY_BYTES = 16_384
# JSON nested deeper than this is refused (400): no platform update comes near it.
MAX_JSON_DEPTH = 64
# /healthz waits this many seconds for the database, whatever it does: the probe answers within 2 s
# with time to spare on a loaded machine.
HEALTH_TIMEOUT = 1.0
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKETS = re.compile(rb"[^\[\]{}]")


def parse_json(body: bytes) -> Any:
    """A request body as JSON; ValueError (said in a few words) for one that is not JSON or is
    nested deeper than MAX_JSON_DEPTH (which would exhaust the parser's recursion)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKETS.sub(b"", _JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise ValueError("body is nested too deeply")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("body is not JSON") from None


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    migrate: bool = True,
    channels: Sequence[Channel] = CHANNELS,
) -> FastAPI:
    """The chibo web service, speaking on each enabled platform of ``channels`` (the registry).
    ``engine`` lets tests hand in their database; ``migrate`` applies the Alembic migrations on
    start, as ``chibo serve`` does."""
    runtime = Runtime.create(settings, engine)
    count_database_errors(runtime.metrics, runtime.engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await upgrade(settings.database_url)
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2) if settings.redis_url else None
        # Each enabled platform, opened: only now are their adapters imported.
        connections: dict[str, Connection] = {c.key: c.open(runtime, redis) for c in channels if c.enabled(settings)}
        app.state.connections = connections
        app.state.webhooks = {key: c.webhook for key, c in connections.items() if c.webhook is not None}
        senders: dict[Platform, Sender] = {
            Platform(key): c.sender for key, c in connections.items() if c.sender is not None
        }
        tasks: list[asyncio.Task[None]] = []
        rates = settings.platform_rates()
        limiter = RedisRateLimiter(redis, rates) if redis is not None else LocalRateLimiter(rates)
        worker = DeliveryWorker(
            runtime.sessions,
            senders,
            runtime.metrics,
            limiter=limiter,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            watch=ChannelWatch(runtime.sessions, runtime.catalogs),
        )
        runtime.on_outbox = worker.wake
        meeting_jobs = MeetingJobs(
            runtime.sessions, messages_maker(runtime.catalogs, settings.tz), settings.tz, worker.wake
        )
        scheduler = create_scheduler(
            runtime.sessions,
            settings.timezone,
            notice_body_maker(runtime.catalogs),
            worker.wake,
            results_maker(runtime.catalogs),
            meeting_jobs,
        )
        watch_scheduler(runtime.metrics, scheduler)
        scheduler.start()
        if senders:
            tasks.append(asyncio.create_task(worker.run(), name="delivery"))
        for key, connection in connections.items():
            polling = await connection.start(scheduler)
            if polling is not None:
                tasks.append(asyncio.create_task(polling(), name=f"{key.replace('_', '-')}-polling"))
        log.info("chibo: web chat on http://%s:%s/", settings.host, settings.port)
        try:
            yield
        finally:
            # The worker finishes the message in flight (no double send); polling just stops.
            worker.stop()
            scheduler.shutdown(wait=False)
            for task in tasks:
                if task.get_name() != "delivery":
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for connection in connections.values():
                await connection.stop()
            if redis is not None:
                await redis.aclose()
            await runtime.engine.dispose()

    docs = settings.api_docs
    app = HardenedFastAPI(
        trusted_proxies=settings.trusted_networks(),
        # The pool wait and a new connection together take at most the database time-out (2 s by
        # default), so with the database hanging every endpoint says 503 well within 5 s.
        database_budget=settings.db_timeout_seconds,
        title="chibo",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        max_body_size=DEFAULT_BODY_BYTES,
    )
    for unavailable in (*DATABASE_UNAVAILABLE, DBAPIError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.runtime = runtime
    app.state.connections = {}
    app.state.webhooks = {}
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for channel in channels:
        if channel.webhook_path is not None:
            _add_webhook(app, channel)
    _add_web_chat(app, runtime)
    _add_operations(app, runtime)
    return app


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _unavailable() -> JSONResponse:
    return JSONResponse({"detail": "database unavailable, try again"}, status_code=503)


async def _invalid_request(_request: Request, error: Exception) -> Response:
    """422 naming what is wrong, without echoing the input (FastAPI's own answer fails, 500, on a
    body that is not UTF-8, and would reflect whatever was sent)."""
    assert isinstance(error, RequestValidationError)
    problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": problems}, status_code=422)


async def _database_unavailable(request: Request, error: Exception) -> Response:
    """Any request that meets a database that is down or hung: 503, so the caller tries again."""
    if not is_database_unavailable(error):
        raise error
    log.warning(
        "%s %s: database unavailable (%s); answered 503", request.method, request.url.path, type(error).__name__
    )
    return _unavailable()


def _add_webhook(app: FastAPI, channel: Channel) -> None:
    """The route a platform posts its updates to: answered 2xx only once the update is durably
    handled, 503 when it cannot be now (the platform delivers it again), 404 while the channel
    does not take webhooks."""
    assert channel.webhook_path is not None
    platform = channel.key

    @app.post(channel.webhook_path, name=f"{platform}_webhook", max_body_size=MAX_UPDATE_BYTES)
    async def receive_update(request: Request) -> Response:
        webhook: Webhook | None = request.app.state.webhooks.get(platform)
        runtime = _runtime(request)
        if webhook is None:
            raise HTTPException(404, f"the {channel.title} webhook is not enabled")
        try:
            webhook.check_headers(request.headers)
            body = await request.body()
            try:
                data = parse_json(body)
            except ValueError as error:
                raise Refused(400, "malformed", str(error)) from None
            await webhook.receive(request.headers, body, data)
        except Refused as refused:
            runtime.metrics.updates_rejected.labels(platform, refused.reason).inc()
            raise HTTPException(refused.status, refused.detail) from None
        except Unavailable as error:
            runtime.metrics.updates_rejected.labels(platform, error.reason).inc()
            log.warning("%s webhook: %s; answered 503", platform, error)
            return JSONResponse({"detail": error.detail}, status_code=503)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            runtime.metrics.updates_rejected.labels(platform, "database").inc()
            log.warning("%s webhook: database unavailable (%s); answered 503", platform, type(error).__name__)
            return _unavailable()
        return JSONResponse({"ok": True})


class ChatMessage(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str | None = Field(default=None, max_length=web.MESSAGE_LIMIT)
    payload: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> ChatMessage:
        if (self.text is None) == (self.payload is None):
            raise ValueError("send exactly one of text or payload")
        if "\x00" in (self.text or self.payload or ""):
            raise ValueError("a message cannot contain a NUL character")
        return self


async def _web_session(request: Request, authorization: Annotated[str, Header()] = "") -> web.WebSession:
    """The caller's web chat session; 401 for a token the server did not issue (or that ended),
    so the page asks for a new one."""
    runtime = _runtime(request)
    scheme, _, token = authorization.partition(" ")
    found = None
    if scheme.lower() == "bearer":
        found = await web.open_session(runtime.sessions, token, idle=runtime.settings.webchat_idle)
    if found is None:
        raise HTTPException(401, "no web chat session; open the chat page again")
    return found


WebSessionDep = Annotated[web.WebSession, Depends(_web_session)]
# A row id within the id columns' range: a larger one is a 422, not a 500 from the database.
FileId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]


def _invite_guess(text: str | None) -> str | None:
    """The invite code a message would try, if any: typed alone or after /start."""
    typed = (text or "").strip()
    if typed.startswith("/"):
        typed = typed.partition(" ")[2]
    return normalize_code(typed)


def _client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def _answer_web(
    runtime: Runtime, request: Request, web_session: web.WebSession, inbound: Inbound, message_id: str
) -> dict[str, Any] | JSONResponse:
    """Handle a web chat message once per browser message id; the replies, kept for a retry.

    A chat not yet linked that types an invite code is held to the lock-out (per session and per
    client address); when the code links it, the answer carries the session's new token."""
    settings = runtime.settings
    guessing = not web_session.linked and _invite_guess(inbound.text) is not None
    limits = [
        (f"session:{web_session.token_hash}", settings.invite_attempts_per_session),
        (f"address:{_client_address(request)}"[:100], settings.invite_attempts_per_address),
    ]
    if guessing:
        async with runtime.sessions() as session:
            locked_until = await invite_lockout(session, limits, window=settings.invite_window)
        if locked_until is not None:
            runtime.metrics.updates_rejected.labels("web", "invite_lockout").inc()
            minutes = max(1, math.ceil((locked_until - utcnow()).total_seconds() / 60))
            _ = runtime.catalogs.translator(None).gettext
            detail = _(
                "Too many wrong invite codes. Please wait {minutes} minutes and type it again, "
                "or ask your branch secretary."
            ).format(minutes=minutes)
            return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(minutes * 60)})
    try:
        processed = await runtime.process(inbound, f"{inbound.user_id[:40]}:{message_id}", answer_inline=True)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        runtime.metrics.updates_rejected.labels("web", "database").inc()
        return _unavailable()
    body: dict[str, Any] = {"replies": [web.render(reply) for reply in processed.replies]}
    # A join retried (its answer lost after the chat was linked, before the token moved) rotates too,
    # so a token planted beforehand still dies.
    if guessing or (processed.duplicate and _invite_guess(inbound.text) is not None):
        token = await web.rotate(runtime.sessions, web_session)
        if token is not None:
            body["token"] = token
        elif not processed.duplicate:
            async with runtime.sessions() as session, session.begin():
                await record_attempt(session, [scope for scope, _ in limits], window=settings.invite_window)
                if await invite_lockout(session, limits, window=settings.invite_window) is not None:
                    audit.record(
                        session,
                        AuditAction.INVITE_LOCKOUT,
                        actor_id=None,
                        subject_type="webchat",
                        after={"platform": "web", "address": _client_address(request)},
                    )
    return body


def _download(filename: str, content: bytes) -> Response:
    quoted = urllib.parse.quote(filename)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"}
    )


def _add_web_chat(app: FastAPI, runtime: Runtime) -> None:
    page = Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/", response_class=HTMLResponse)
    async def chat_page() -> str:
        t = runtime.catalogs.translator(None)
        _ = t.gettext
        words = {
            "lang": t.locale,
            "title": _("chibo — party branch assistant"),
            "input_placeholder": _("Type a message or your invite code…"),
            "send_label": _("Send"),
            "offline_text": _("No connection. Your message will be sent again."),
            "welcome_text": _("Type the invite code printed on your paper to begin."),
            "failed_text": _("chibo could not take this message just now. Please send it again in a few minutes."),
            "too_large_text": _(
                "This is too large for chibo: a file can be at most 20 MB, a message 4,096 characters."
            ),
        }
        return page.safe_substitute({key: escape(value) for key, value in words.items()})

    @app.post("/api/webchat/session", max_body_size=WEB_MESSAGE_BYTES)
    async def new_session(request: Request) -> dict[str, str]:
        """A new web chat session: its token goes with every call as ``Authorization: Bearer``."""
        await limit_new_sessions(runtime, _client_address(request))
        return {"token": await web.start_session(runtime.sessions, idle=runtime.settings.webchat_idle)}

    @app.post("/api/webchat/messages", response_model=None, max_body_size=WEB_MESSAGE_BYTES)
    async def chat_message(
        request: Request, message: ChatMessage, web_session: WebSessionDep
    ) -> dict[str, Any] | JSONResponse:
        runtime.metrics.updates_received.labels("web").inc()
        inbound = web.inbound_from_message(web_session, message.text, message.payload)
        return await _answer_web(runtime, request, web_session, inbound, message.id)

    @app.get("/api/webchat/files/{file_id}", response_model=None)
    async def chat_file(file_id: FileId, web_session: WebSessionDep) -> Response:
        """A notice's document, for a member it was sent to (or a secretary who may announce to them)."""
        async with runtime.sessions() as session:
            file = await session.get(NoticeFile, file_id)
            member = await web_member(session, web_session.token_hash)
            if file is None or member is None or not await may_read_notice_file(session, member, file):
                raise HTTPException(404, "no such file")
            return _download(file.filename, file.content)

    @app.get("/api/webchat/meeting-files/{file_id}", response_model=None)
    async def chat_meeting_file(file_id: FileId, web_session: WebSessionDep) -> Response:
        """A meeting's document or minutes, for a member invited to it (or who manages it)."""
        async with runtime.sessions() as session:
            file = await session.get(MeetingFile, file_id)
            meeting = None if file is None else await session.get(Meeting, file.meeting_id)
            member = await web_member(session, web_session.token_hash)
            if file is None or file.content is None or meeting is None or member is None:
                raise HTTPException(404, "no such file")
            if not await may_see(session, member, meeting):
                raise HTTPException(404, "no such file")
            return _download(file.filename, file.content)

    # The session is checked (a dependency) before the body is read: without one, nothing is read.
    @app.post("/api/webchat/upload", response_model=None, max_body_size=MAX_BYTES)
    async def chat_upload(
        request: Request,
        web_session: WebSessionDep,
        id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
        name: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    ) -> dict[str, Any] | JSONResponse:
        """A file from the web chat (the register), sent as the raw request body."""
        runtime.metrics.updates_received.labels("web").inc()
        # A stranger's file is not read (it would only be refused): the server holds 20 MB only for
        # a member, and the stranger gets the same polite answer.
        content = await request.body() if web_session.linked else b""
        inbound = web.inbound_from_upload(web_session, Attachment(Path(name).name, content))
        return await _answer_web(runtime, request, web_session, inbound, id)


def _add_operations(app: FastAPI, runtime: Runtime) -> None:
    background: set[asyncio.Task[None]] = set()

    async def database_answers() -> None:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @app.get("/healthz", response_model=None)
    async def healthz() -> dict[str, str] | JSONResponse:
        checks = {"database": "ok", "redis": "not configured"}
        # A hung database must not hang the probe: the check goes on alone (its own statement
        # time-out ends it) while the probe answers within HEALTH_TIMEOUT; while it waits, the
        # next probes need not wait to know.
        if background:
            checks["database"] = "unavailable: no answer"
        else:
            check = asyncio.create_task(database_answers())
            done, _ = await asyncio.wait({check}, timeout=HEALTH_TIMEOUT)
            if not done:
                background.add(check)
                check.add_done_callback(_forget(background))
                checks["database"] = "unavailable: no answer"
            elif (error := check.exception()) is not None:
                if not is_database_unavailable(error):
                    raise error
                checks["database"] = "unavailable"
        if runtime.settings.redis_url:
            redis = Redis.from_url(runtime.settings.redis_url, socket_connect_timeout=2, socket_timeout=HEALTH_TIMEOUT)
            try:
                await redis.ping()
                checks["redis"] = "ok"
            except (RedisError, OSError) as error:
                checks["redis"] = f"unavailable: {type(error).__name__}"
            finally:
                await redis.aclose()
        healthy = all(value in ("ok", "not configured") for value in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **checks}
        return body if healthy else JSONResponse(body, status_code=503)

    @app.get("/metrics")
    async def metrics(authorization: Annotated[str, Header()] = "") -> Response:
        """Prometheus metrics, for the bearer of CHIBO_METRICS_TOKEN; 404 when it is not set."""
        expected = runtime.settings.metrics_token
        if expected is None:
            raise HTTPException(404, "Not Found")
        if not hmac.compare_digest(authorization.encode(), f"Bearer {expected}".encode()):
            raise HTTPException(401, "wrong or missing metrics token", headers={"WWW-Authenticate": "Bearer"})
        try:
            await observe_database(runtime.metrics, runtime.sessions)
        except Exception as error:
            # With the database down (counted in chibo_database_errors) the counters are still worth scraping.
            if not is_database_unavailable(error):
                raise
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _forget(tasks: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved

    return done
