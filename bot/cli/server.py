"""Running chibo: ``chibo serve`` and ``chibo demo``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Callable

import typer
import uvicorn
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp

from bot.cli.common import run, settings_or_exit
from bot.cli.members import print_invites
from bot.demo import seed_demo
from bot.demo_books import seed_demo_books
from bot.migrate import upgrade
from bot.settings import Settings
from models.invites import IssuedInvite, issue_unlinked_invites

# On SIGTERM, requests still open after this many seconds are ended (the web chat's long polls
# are answered at once, see Server; this bounds anything else slow, an upload on 2G).
GRACEFUL_SHUTDOWN_SECONDS = 3


class Server(uvicorn.Server):
    """uvicorn's server, calling ``on_stop`` when it starts to stop, before it waits for the open
    requests: the web chat's long polls are answered then, so the shutdown ends them cleanly
    instead of cutting them off (a 500 to the page, an error in the log) after the grace time."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_stop is not None:
            self._on_stop()
        await super().shutdown(sockets=sockets)


def run_app(app: ASGIApp, host: str, port: int, *, on_stop: Callable[[], None] | None = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, as `chibo serve` does (the benches run it so too)."""
    # What is built by now (modules, the app, its models' schemas: some 350,000 objects) lives as
    # long as the process. Frozen, it is left out of the cyclic collector's full passes, which
    # walked all of it under load (pauses up to 0.35 s, every request waiting; bench/webchat.py).
    gc.collect()
    gc.freeze()
    # proxy_headers off: the app reads X-Forwarded-For itself, from CHIBO_TRUSTED_PROXIES only
    # (uvicorn's own default trusts 127.0.0.1, so any local process could pose as any address).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how it is stopped by hand, as uvicorn.run has it
        Server(config, on_stop).run()


def _serve(settings: Settings) -> None:
    from webhooks.app import create_app, end_long_polls  # the web stack loads only for the commands that serve

    app = create_app(settings)
    run_app(app, settings.host, settings.port, on_stop=lambda: end_long_polls(app))


def serve() -> None:
    """Apply migrations, then run the web service, the web chat and the enabled platforms."""
    _serve(settings_or_exit())


def demo() -> None:
    """Seed the demo commune (once), print an invite code per member, then serve."""
    settings = settings_or_exit()
    asyncio.run(upgrade(settings.database_url))

    async def seed_and_invite(session: AsyncSession) -> list[IssuedInvite]:
        if await seed_demo(session):
            await seed_demo_books(session, settings.tz)  # a year of the branch's books, once
        return await issue_unlinked_invites(session)

    print_invites(run(settings, seed_and_invite, write=True), settings)
    _serve(settings)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
