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
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from bot.channels import photo_links, web, web_push
from bot.channels.base import Channel, Connection, Refused, Unavailable, Webhook
from bot.channels.registry import CHANNELS
from bot.delivery import OUTBOX_CHANNEL, ChannelWatch, DeliveryWorker, Sender, outbox_announcer
from bot.metrics import count_database_errors, observe_database, watch_scheduler
from bot.migrate import upgrade
from bot.ratelimit import LocalRateLimiter, RedisRateLimiter
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.books.messages import book_messages
from handlers.contract import Attachment, Document, Inbound, Reply
from handlers.conversation import takes_a_file
from handlers.meetings import messages_maker
from handlers.notices import notice_body_maker
from handlers.polls import has_secret_ticks, results_maker, ticks_shown
from models import audit
from models.audit import AuditAction
from models.db import DATABASE_UNAVAILABLE, is_database_unavailable, listen, rolled_back_for_another
from models.invites import invite_lockout, invite_lockouts, normalize_code, record_attempt
from models.meetings import may_see
from models.notices import PHOTO_SUFFIXES, may_read_notice_file, web_member
from models.push_subscriptions import subscribe, subscription_of, unsubscribe
from models.roster_files import MAX_BYTES
from models.tables import MAX_ID, Meeting, MeetingFile, NoticeFile, Platform, utcnow
from scheduler.books import add_book_reminders
from scheduler.meetings import MeetingJobs
from scheduler.runner import create_scheduler
from webhooks import desk
from webhooks.admission import Allowance, Line, client_group
from webhooks.security import HardenedFastAPI, limit_new_sessions

if TYPE_CHECKING:
    from redis.asyncio import Redis

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
# ...and so is JSON with more brackets than this, strings included (a Telegram text holds at most
# 4,096, a reply with its quote about 9,300): 1 MB of "[]" made 450,000 lists, and the garbage
# collector held the event loop seconds, before the Zalo OA's signature is checked.
MAX_JSON_CONTAINERS = 20_000
# /healthz waits this many seconds for the database, whatever it does: the probe answers within 2 s
# with time to spare on a loaded machine.
HEALTH_TIMEOUT = 1.0
# ...and the check itself gives up on a lock or a statement after this long (PostgreSQL).
HEALTH_CHECK_LIMIT_MS = 1500
# Messages a web chat session not yet joined may send in a window (codes aside, which the invite
# lock-out counts): a stranger says hello and types a code; a script flooding the chat is told to
# type the code (429) instead of filling the tables and taking the members' turns.
STRANGER_MESSAGES = 30
STRANGER_MESSAGES_PER_ADDRESS = 300  # all strangers of one address (or IPv6 /64) together
STRANGER_WINDOW_SECONDS = 60.0
# Web chat requests using the database at once where a PostgreSQL engine keeps no pool of connections.
LINE_SLOTS_WITHOUT_POOL = 10
# A JSON string, its closing quote optional: a string left open is one match to the end of the
# body. With the quote required, the search started again at each quote it escaped, each time
# to the end: 64 KB of them held the event loop 20 s, before any signature was checked.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
# What lies between brackets goes in one match a run: one match a character held the event loop
# 0.1-0.6 s a MB, before the Zalo OA's signature is checked (found by the outside attacker).
NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def parse_json(body: bytes) -> Any:
    """A request body as JSON; ValueError (said in a few words) for one that is not UTF-8, not
    JSON or nested deeper than MAX_JSON_DEPTH (which would exhaust the parser's recursion)."""
    try:
        # JSON between machines is UTF-8 (RFC 8259). Read as bytes, UTF-16 passed too, and there a
        # character's byte can pass for a quote: brackets nested 900 deep were read as a string.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    # No more opening brackets than the limit, strings included, cannot nest deeper than it: most
    # updates skip the scan below (it was 3% of a vote's CPU).
    opened = text.count("[") + text.count("{")
    if opened > MAX_JSON_CONTAINERS:
        raise ValueError("body has too many arrays and objects")
    depth = deepest = 0
    for bracket in "" if opened <= MAX_JSON_DEPTH else NOT_BRACKET.sub("", JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise ValueError("body is nested too deeply")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("body is not JSON") from None


def _redis(url: str, *, timeout: float | None = None) -> Redis:
    """A client of the Redis at ``url`` (connecting gives up after 2 s, a command after ``timeout``):
    the library is loaded only when CHIBO_REDIS_URL is set."""
    from redis.asyncio import Redis

    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=timeout)


def end_long_polls(app: FastAPI) -> None:
    """Answers every web chat page waiting on this server now: it is stopping (bot/cli/server.py)."""
    connection = getattr(app.state, "connections", {}).get("web")
    if isinstance(connection, web.WebConnection):
        connection.hub.end_waits()


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    migrate: bool = True,
    channels: Sequence[Channel] = CHANNELS,
    leads: bool = True,
) -> FastAPI:
    """The chibo web service, speaking on each enabled platform of ``channels`` (the registry).
    ``engine`` lets tests hand in their database; ``migrate`` applies the Alembic migrations on
    start, as ``chibo serve`` does. ``leads``: this process asks the platforms that are polled for
    their updates and delivers the outbox. Of `chibo serve`'s workers only the first does: two
    pollers would take each other's updates, and two deliverers could send a chat's messages out
    of order and closer than the platform allows; the others wake it through PostgreSQL."""
    runtime = Runtime.create(settings, engine)
    count_database_errors(runtime.metrics, runtime.engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await upgrade(settings.database_url)
        redis = _redis(settings.redis_url) if settings.redis_url else None
        # Each enabled platform, opened: only now are their adapters imported.
        connections: dict[str, Connection] = {c.key: c.open(runtime, redis) for c in channels if c.enabled(settings)}
        app.state.connections = connections
        app.state.webhooks = {key: c.webhook for key, c in connections.items() if c.webhook is not None}
        senders: dict[Platform, Sender] = {
            Platform(key): c.sender for key, c in connections.items() if c.sender is not None
        }
        pusher = connections.get(web_push.CHANNEL_KEY)
        if isinstance(pusher, web_push.WebPushConnection):
            # Web Push is a second sender for the web chat: each message sent there queues its notification.
            senders[Platform.WEB] = pusher.also_push(senders.get(Platform.WEB))
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
            # A channel's template messages (the Zalo OA's ZNS), for members its chat window refuses.
            fallbacks={
                Platform(key): fallback
                for key, c in connections.items()
                if (fallback := getattr(c, "fallback", None)) is not None
            },
            desk_address=runtime.public_address,
        )
        wake = worker.wake if leads else outbox_announcer(runtime.engine)
        runtime.on_outbox = wake
        meeting_jobs = MeetingJobs(runtime.sessions, messages_maker(runtime.catalogs, settings.tz), settings.tz, wake)
        scheduler = create_scheduler(
            runtime.sessions,
            settings.timezone,
            notice_body_maker(runtime.catalogs),
            wake,
            results_maker(runtime.catalogs),
            meeting_jobs,
        )
        add_book_reminders(scheduler, runtime.sessions, book_messages(runtime.catalogs), settings.tz, wake)
        watch_scheduler(runtime.metrics, scheduler)
        scheduler.start()
        if senders and leads:
            tasks.append(asyncio.create_task(worker.run(), name="delivery"))
            if settings.workers > 1:  # the other workers' rows, announced as they commit
                heard = listen(runtime.engine, OUTBOX_CHANNEL, lambda _payload: worker.wake(), what="delivery")
                tasks.append(asyncio.create_task(heard, name="outbox-listen"))
        for key, connection in connections.items():
            polling = await connection.start(scheduler)
            if polling is not None and leads:
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
        # chibo's own metrics are Prometheus'; FastAPI's OpenTelemetry hooks would otherwise look up
        # the tracer, meter and logger providers on every request (about 5% of a vote's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    for unavailable in (*DATABASE_UNAVAILABLE, DBAPIError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.runtime = runtime
    app.state.line = Line(_line_slots(runtime), settings.db_timeout_seconds)
    app.state.strangers = Allowance(STRANGER_MESSAGES, STRANGER_WINDOW_SECONDS)
    app.state.strangers_by_address = Allowance(STRANGER_MESSAGES_PER_ADDRESS, STRANGER_WINDOW_SECONDS)
    app.state.connections = {}
    app.state.webhooks = {}
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for channel in channels:
        if channel.webhook_path is not None:
            _add_webhook(app, channel)
    _add_web_chat(app, runtime)
    _add_web_app(app, runtime)
    _add_operations(app, runtime)
    desk.install(app)
    return app


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _line_slots(runtime: Runtime) -> int:
    """The pool's own connections (its overflow is left for everything else: delivery, the
    scheduler, webhooks, pages fetching what they waited for). On SQLite one: it has one writer,
    and five requests racing for its lock left the losers in sqlite3's busy handler, asleep, while
    newer requests took the lock, so a member could wait behind a whole flood from elsewhere."""
    if runtime.engine.dialect.name == "sqlite":
        return 1
    pool = runtime.engine.pool
    return pool.size() if isinstance(pool, QueuePool) else LINE_SLOTS_WITHOUT_POOL


def _unavailable() -> JSONResponse:
    return JSONResponse({"detail": "database unavailable, try again"}, status_code=503)


async def _invalid_request(request: Request, error: Exception) -> Response:
    """422 naming what is wrong, without echoing the input (FastAPI's own answer fails, 500, on a
    body that is not UTF-8, and would reflect whatever was sent); on the desk, its HTML page."""
    assert isinstance(error, RequestValidationError)
    if request.url.path == "/desk" or request.url.path.startswith("/desk/"):
        return desk.invalid_request_page(request)
    problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": problems}, status_code=422)


def _try_again(error: Exception) -> bool:
    """A database error the caller is answered 503 for: the database is down or hung, or it gave the
    transaction up for another's sake (a deadlock); the same request later succeeds."""
    return is_database_unavailable(error) or rolled_back_for_another(error)


async def _database_unavailable(request: Request, error: Exception) -> Response:
    """Any request that meets a database that is down or hung: 503, so the caller tries again."""
    if not _try_again(error):
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
            answer = await webhook.receive(request.headers, body, data)
        except Refused as refused:
            runtime.metrics.updates_rejected.labels(platform, refused.reason).inc()
            raise HTTPException(refused.status, refused.detail) from None
        except Unavailable as error:
            runtime.metrics.updates_rejected.labels(platform, error.reason).inc()
            log.warning("%s webhook: %s; answered 503", platform, error)
            return JSONResponse({"detail": error.detail}, status_code=503)
        except Exception as error:
            if not _try_again(error):
                raise
            runtime.metrics.updates_rejected.labels(platform, "database").inc()
            log.warning("%s webhook: database unavailable (%s); answered 503", platform, type(error).__name__)
            return _unavailable()
        return JSONResponse(answer if answer is not None else {"ok": True})


class ChatMessage(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    text: str | None = Field(default=None, max_length=web.MESSAGE_LIMIT)
    payload: str | None = Field(default=None, max_length=64)
    source: int | None = Field(default=None, ge=1, le=MAX_ID)  # the message whose button was tapped

    @model_validator(mode="after")
    def _one_of(self) -> ChatMessage:
        if (self.text is None) == (self.payload is None):
            raise ValueError("send exactly one of text or payload")
        if "\x00" in (self.text or self.payload or ""):
            raise ValueError("a message cannot contain a NUL character")
        return self


def _bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if it is one."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" else None


async def _web_session(request: Request, authorization: Annotated[str, Header()] = "") -> web.WebSession:
    """The caller's web chat session; 401 for a token the server did not issue (or that ended),
    so the page asks for a new one."""
    runtime = _runtime(request)
    token = _bearer(authorization)
    found = None
    if token is not None:
        found = await web.open_session(runtime.sessions, token, idle=runtime.settings.webchat_idle)
    if found is None:
        raise HTTPException(401, NO_SESSION)
    return found


WebSessionDep = Annotated[web.WebSession, Depends(_web_session)]


NO_SESSION = "no web chat session; open the chat page again"


async def _web_session_in_line(
    request: Request, authorization: Annotated[str, Header()] = ""
) -> AsyncIterator[web.WebSession | str]:
    """As ``_web_session``, for a request that then uses the database again: its turn in the line
    (``Line``) is taken first and held until the request has its answer. For a token of the right
    shape that has no session, the token itself, instead of a 401: it may be a page's old token,
    sending again the code whose answer (a join's) was lost (``web.recover_move``)."""
    token = _bearer(authorization)
    if token is None or not web.TOKEN_SHAPE.match(token):
        raise HTTPException(401, NO_SESSION)  # no turn needed
    line: Line = request.app.state.line
    async with line.turn(client_group(_client_address(request))):
        runtime = _runtime(request)
        found = await web.open_session(runtime.sessions, token, idle=runtime.settings.webchat_idle)
        yield token if found is None else found


# Scope "function": the turn ends when the route returns, before the answer is sent.
WebSessionInLineDep = Annotated[web.WebSession | str, Depends(_web_session_in_line, scope="function")]
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
    code = _invite_guess(inbound.text)
    guessing = not web_session.linked and code is not None
    limits = _invite_limits(runtime, request, web_session.token_hash)
    if not web_session.linked and not guessing:
        address = client_group(_client_address(request))
        wait = request.app.state.strangers.take(web_session.token_hash)
        wait = wait if wait is not None else request.app.state.strangers_by_address.take(address)
        if wait is not None:
            runtime.metrics.updates_rejected.labels("web", "stranger_limit").inc()
            detail = runtime.catalogs.translator(None).gettext("Type the invite code printed on your paper to begin.")
            return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(math.ceil(wait))})
    if guessing:
        async with runtime.sessions() as session:
            # One read for both scopes, alone: without BEGIN and ROLLBACK around it.
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            session_until, *others = await invite_lockouts(session, limits, window=settings.invite_window)
            locked_until = max((until for until in others if until is not None), default=None)
            session_locked = locked_until is None and session_until is not None
        if locked_until is not None:
            return _locked_out(runtime, locked_until)
        if session_locked:
            # This session alone: 401, so the page takes a new one. Wrong codes sent with a token
            # planted in a member's browser must not keep the member's own code out.
            raise HTTPException(401, NO_SESSION)
    chat = web_session.token_hash
    try:
        # A joined browser that types a code may be moving to another member (a shared phone).
        switching = web_session.linked and code is not None
        before = await _member_id(runtime, chat) if switching else None
        page_token = _bearer(request.headers.get("authorization", ""))
        # Kept, so a reload shows the last answer's buttons again (a retry gets the same ids).
        # A code that links the chat (to another member, on a shared phone) moves it to a new
        # token as it commits, so a token planted beforehand dies with the join.
        answers = web.Answers(
            chat, message_id, joining=guessing, switching_from=before, page_token=page_token, code=code
        )
        processed = await runtime.process(
            inbound, f"{inbound.user_id[:40]}:{message_id}", answer_inline=True, keeper=answers
        )
        rendered = [web.render(reply) for reply in processed.replies]
        ids = processed.ids
        if len(ids) == len(rendered):
            rendered = [{"id": row_id} | shown for row_id, shown in zip(ids, rendered, strict=True)]
        body: dict[str, Any] = {"replies": rendered}
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        runtime.metrics.updates_rejected.labels("web", "database").inc()
        line: Line = request.app.state.line
        line.failed(error)
        return _unavailable()
    if answers.token is not None:
        body["token"] = answers.token
        if answers.switched:
            body["switched"] = True  # the first member's messages are gone: the page starts afresh
        return body
    if guessing and not processed.duplicate and not answers.moved_meanwhile:
        # A wrong code: counted against the session and the address.
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


def _locked_out(runtime: Runtime, locked_until: datetime) -> JSONResponse:
    """429 for an invite code typed while its session or address is locked out, saying how long."""
    runtime.metrics.updates_rejected.labels("web", "invite_lockout").inc()
    minutes = max(1, math.ceil((locked_until - utcnow()).total_seconds() / 60))
    _ = runtime.catalogs.translator(None).gettext
    detail = _(
        "Too many wrong invite codes. Please wait {minutes} minutes and type it again, or ask your branch secretary."
    ).format(minutes=minutes)
    return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(minutes * 60)})


def _invite_limits(runtime: Runtime, request: Request, token_hash: str) -> list[tuple[str, int]]:
    """The invite lock-out's scopes for a web chat message: its session and its client address."""
    settings = runtime.settings
    return [
        (f"session:{token_hash}", settings.invite_attempts_per_session),
        (f"address:{client_group(_client_address(request))}"[:100], settings.invite_attempts_per_address),
    ]


async def _answer_moved(
    runtime: Runtime, request: Request, token: str, message: ChatMessage
) -> dict[str, Any] | JSONResponse:
    """A message sent with a token that has no session. If a join (or a switch) moved the token's
    session and this is that message again (its id and its code: the page's retry after the answer
    was lost), the answers and the token it moved to (``web.recover_move``), as often as asked
    within ``web.MOVE_GRACE``; else 401 as for any unknown token, the page then asking for a new
    one. Any other code sent with a moved token counts against the lock-out (of that token, and of
    the address): 429 once either is locked."""
    code = _invite_guess(message.text)
    if code is None:
        raise HTTPException(401, NO_SESSION)
    old_hash = web.user_id_for(token)
    limits = _invite_limits(runtime, request, old_hash)
    window = runtime.settings.invite_window
    try:
        async with runtime.sessions() as session, session.begin():
            if not await web.move_on_record(session, old_hash):
                raise HTTPException(401, NO_SESSION)  # an ended session: nothing was moved from it
            # The page's own message first: it needs the page's random id, which no guess finds, so
            # wrong codes sent with the same token (a planted one) cannot lock the member's retry out.
            moved = await web.recover_move(session, token, code, message.id)
            if moved is not None:
                rendered = [{"id": row_id} | web.render(Reply.from_dict(kept)) for row_id, kept in moved.kept]
                body: dict[str, Any] = {"replies": rendered, "token": moved.token}
                return body | ({"switched": True} if moved.switched else {})
            locked_until = await invite_lockout(session, limits, window=window)
            if locked_until is not None:
                return _locked_out(runtime, locked_until)
            await record_attempt(session, [scope for scope, _ in limits], window=window)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        runtime.metrics.updates_rejected.labels("web", "database").inc()
        request.app.state.line.failed(error)
        return _unavailable()
    raise HTTPException(401, NO_SESSION)


async def _member_id(runtime: Runtime, chat: str) -> int | None:
    async with runtime.sessions() as session:
        member = await web_member(session, chat)
    return None if member is None else member.id


def _page_words(runtime: Runtime, locale: str | None, *, joined: bool) -> dict[str, str]:
    """The page's own words (not chibo's messages) in the member's language."""
    t = runtime.catalogs.translator(locale)
    _ = t.gettext
    return {
        "lang": t.locale,
        "title": _("chibo — party branch assistant"),
        "input_placeholder": _("Type a message…") if joined else _("Type a message or your invite code…"),
        "send_label": _("Send"),
        "newline_label": _("New line"),
        "menu_label": _("Menu"),
        "unread_label": _("New"),
        "offline_text": _("No connection. Your message will be sent again."),
        "welcome_text": _("Type the invite code printed on your paper to begin."),
        "failed_text": _("chibo could not take this message just now. Please send it again in a few minutes."),
        "too_large_text": _("This is too large for chibo: a file can be at most 20 MB, a message 4,096 characters."),
    }


async def _client_gone(request: Request) -> None:
    """Returns when the client has closed the connection."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _download(filename: str, content: bytes) -> Response:
    quoted = urllib.parse.quote(filename)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"}
    )


def _add_web_chat(app: FastAPI, runtime: Runtime) -> None:
    page = Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    sweeps = web.Sweeps()

    @app.get("/", response_class=HTMLResponse)
    async def chat_page() -> str:
        words = _page_words(runtime, None, joined=False)
        return page.safe_substitute({key: escape(value) for key, value in words.items()})

    def hub(request: Request) -> web.Hub:
        connection = request.app.state.connections.get("web")
        return connection.hub if isinstance(connection, web.WebConnection) else web.Hub(runtime.engine)

    @app.get("/api/webchat/inbox", response_model=None)
    async def chat_inbox(
        request: Request,
        web_session: WebSessionDep,
        after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        wait: bool = False,
    ) -> dict[str, Any]:
        """What chibo sent this chat on its own after message ``after``: at once, or (``wait``)
        as soon as there is some, within a time-out. Without ``wait`` also the chat's last message
        (its buttons come back after a reload) and the page's words in the member's language."""
        chat = web_session.token_hash
        if wait:
            fetch = asyncio.create_task(
                web.wait_for_messages(
                    runtime.sessions,
                    hub(request),
                    chat,
                    after,
                    wait=runtime.settings.webchat_wait_seconds,
                    budget=runtime.settings.db_timeout_seconds,
                )
            )
            gone = asyncio.create_task(_client_gone(request))
            await asyncio.wait({fetch, gone}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if not fetch.done():
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                return {"messages": []}  # nobody is listening any more
            return {"messages": [web.shown(row) for row in fetch.result()]}
        rows = await web.messages_after(runtime.sessions, chat, after)
        last = await web.last_message(runtime.sessions, chat)
        shown_last = None if last is None else web.shown(last)
        async with runtime.sessions() as session:
            member = await web_member(session, chat)
            if last is not None and has_secret_ticks(reply := Reply.from_dict(last.body)):
                # A secret ballot being filled in shows the choices so far after a reload, as its
                # tap's answer did: opened now, never kept (found by the outside tester).
                shown_last = {"id": last.id, "pushed": last.pushed} | web.render(await ticks_shown(session, reply))
        return {
            "messages": [web.shown(row) for row in rows],
            "last": shown_last,
            "words": _page_words(runtime, None if member is None else member.locale, joined=member is not None),
        }

    @app.post("/api/webchat/session", max_body_size=WEB_MESSAGE_BYTES)
    async def new_session(request: Request) -> dict[str, str]:
        """A new web chat session: its token goes with every call as ``Authorization: Bearer``."""
        # One transaction: counted against the address and opened together (a 429 writes nothing).
        async with (
            request.app.state.line.turn(client_group(_client_address(request))),
            runtime.sessions() as session,
            session.begin(),
        ):
            sweep = sweeps.due()
            await limit_new_sessions(runtime, session, client_group(_client_address(request)), sweep=sweep)
            return {"token": await web.start_session(session, idle=runtime.settings.webchat_idle, sweep=sweep)}

    @app.post("/api/webchat/messages", response_model=None, max_body_size=WEB_MESSAGE_BYTES)
    async def chat_message(
        request: Request, message: ChatMessage, web_session: WebSessionInLineDep
    ) -> dict[str, Any] | JSONResponse:
        runtime.metrics.updates_received.labels("web").inc()
        if isinstance(web_session, str):
            return await _answer_moved(runtime, request, web_session, message)
        inbound = web.inbound_from_message(web_session, message.text, message.payload, message.source)
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

    @app.get(photo_links.PATH + "{token}", response_model=None)
    async def shared_photo(token: Annotated[str, PathParameter(max_length=200)]) -> Response:
        """A notice's or meeting's photo by a signed, expiring address (the Zalo bot's sendPhoto
        takes photos only by address); anything else, or a wrong or old token, is not found."""
        found = photo_links.photo_of(runtime.settings.ballot_secret(), token, utcnow())
        stored = None if found is None else await runtime.load_file(Document(found[1], "", True, source=found[0]))
        if stored is None or not stored[0].lower().endswith(PHOTO_SUFFIXES):
            raise HTTPException(404, "no such photo")
        media_type = mimetypes.guess_type(stored[0])[0] or "application/octet-stream"
        return Response(stored[1], media_type=media_type)

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
        # A file nobody asked for is not read (it would only be refused): the server holds 20 MB only
        # for a member whose open question takes a file or who may send the register, and anyone
        # else (a stranger, an ordinary member) gets the same polite answer.
        async with runtime.sessions() as session:
            wanted = web_session.linked and await takes_a_file(session, Platform.WEB, web_session.token_hash)
        content = await request.body() if wanted else b""
        inbound = web.inbound_from_upload(web_session, Attachment(Path(name).name, content))
        return await _answer_web(runtime, request, web_session, inbound, id)


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=128)
    auth: str = Field(min_length=1, max_length=64)


class PushSubscriptionBody(BaseModel):
    """The browser's PushSubscription, as its toJSON() gives it."""

    endpoint: str = Field(min_length=1, max_length=web_push.ENDPOINT_MAX_LENGTH)
    keys: PushKeys
    expirationTime: float | None = None  # the browser's name for it


def _push_connection(request: Request) -> web_push.WebPushConnection:
    connection = request.app.state.connections.get(web_push.CHANNEL_KEY)
    if not isinstance(connection, web_push.WebPushConnection):
        raise HTTPException(404, "web push is not enabled")
    return connection


PushConnectionDep = Annotated[web_push.WebPushConnection, Depends(_push_connection)]
SERVICE_WORKER = (STATIC_DIR / "sw.js").read_bytes()


def _add_web_app(app: FastAPI, runtime: Runtime) -> None:
    """What makes the web chat an app a member keeps: the service worker (offline page, Web Push),
    the manifest and the notification settings of a browser that joined."""
    offline_page = Template((STATIC_DIR / "offline.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico", include_in_schema=False)
    async def no_favicon() -> Response:
        # Browsers ask for it on every page; an answer with nothing costs a phone on 2G no bytes
        # (the page's own weight stays under 30 KB) and shows no error in the console.
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=604800"})

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        # Served from the root, so its scope covers the whole chat; never cached, so an update is seen.
        return Response(SERVICE_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> Response:
        t = runtime.catalogs.translator(None)
        body = {
            "name": t.gettext("chibo — party branch assistant"),
            "short_name": "chibo",
            "lang": t.locale,
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#b71c1c",
            "icons": [
                {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
                {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
                {
                    "src": "/static/icon-maskable-512.png",
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")

    @app.get("/offline.html", response_class=HTMLResponse, include_in_schema=False)
    async def offline() -> str:
        t = runtime.catalogs.translator(None)
        _ = t.gettext
        words = {
            "lang": t.locale,
            "title": _("chibo — party branch assistant"),
            "offline_heading": _("No connection"),
            "offline_body": _(
                "chibo cannot be reached just now. Open it again when you have signal: what you typed "
                "in the chat is sent when the network returns."
            ),
            "retry_label": _("Try again"),
        }
        return offline_page.safe_substitute({key: escape(value) for key, value in words.items()})

    @app.get("/api/webchat/push")
    async def push_state(web_session: WebSessionDep, pusher: PushConnectionDep) -> dict[str, Any]:
        """Whether this browser's chat may turn notifications on, the key to subscribe with, and the words."""
        async with runtime.sessions() as session:
            member = await web_member(session, web_session.token_hash)
            subscribed = await subscription_of(session, web_session.token_hash) is not None
        _ = runtime.catalogs.translator(member.locale if member is not None else None).gettext
        return {
            "linked": web_session.linked,
            "subscribed": subscribed,
            "public_key": await pusher.keys.public_key(),
            "words": {
                "turn_on": _("🔔 Turn on notifications"),
                "turn_off": _("Turn off"),
                "on": _("🔔 Notifications are on."),
                "where": _("Works on Android (Chrome); on an iPhone only from the home screen."),
                "iphone": _(
                    "On an iPhone: tap Share, then Add to Home Screen, open chibo from the home screen, "
                    "then turn on notifications there."
                ),
                "blocked": _(
                    "Notifications are blocked for this site. Allow them in the browser's site settings, "
                    "then try again."
                ),
                "failed": _("Notifications could not be turned on here. Please try again later."),
            },
        }

    @app.post("/api/webchat/push", max_body_size=4096)
    async def push_subscribe(
        body: PushSubscriptionBody, web_session: WebSessionDep, pusher: PushConnectionDep
    ) -> dict[str, bool]:
        """Turn Web Push on for this browser's chat (replacing its earlier subscription)."""
        if not web_session.linked:
            raise HTTPException(403, "join with your invite code first")
        try:
            web_push.check_subscription(runtime.settings, body.endpoint, body.keys.p256dh, body.keys.auth)
        except web_push.InvalidSubscription as error:
            problem = {"loc": ("body", error.field), "msg": str(error), "type": "value_error"}
            raise RequestValidationError([problem]) from None
        async with runtime.sessions() as session, session.begin():
            kept = await subscribe(
                session, web_session.token_hash, endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth
            )
        if not kept:
            raise HTTPException(403, "join with your invite code first")
        return {"subscribed": True}

    @app.delete("/api/webchat/push")
    async def push_unsubscribe(web_session: WebSessionDep, pusher: PushConnectionDep) -> dict[str, bool]:
        """Turn Web Push off for this browser's chat."""
        async with runtime.sessions() as session, session.begin():
            await unsubscribe(session, web_session.token_hash)
        return {"subscribed": False}


def _add_operations(app: FastAPI, runtime: Runtime) -> None:
    background: set[asyncio.Task[None]] = set()

    async def database_answers() -> None:
        # A real table, not "SELECT 1": a database that answers but holds its tables locked (a
        # migration, a LOCK TABLE, a stuck VACUUM FULL) serves nobody. The check then gives up by
        # itself soon after the probe has answered.
        async with runtime.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text(f"SET LOCAL lock_timeout = {HEALTH_CHECK_LIMIT_MS}"))
                await connection.execute(text(f"SET LOCAL statement_timeout = {HEALTH_CHECK_LIMIT_MS}"))
            await connection.execute(text("SELECT 1 FROM member LIMIT 1"))

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
            from redis.exceptions import RedisError

            redis = _redis(runtime.settings.redis_url, timeout=HEALTH_TIMEOUT)
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
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _forget(tasks: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved

    return done
