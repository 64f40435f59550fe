"""Running chibo: ``chibo serve`` and ``chibo demo``."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

import typer
import uvicorn
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp

from bot.cli.common import reach_database, run, settings_or_exit
from bot.cli.members import print_invites
from bot.demo import seed_demo
from bot.demo_books import seed_demo_books
from bot.logs import configure_logging
from bot.migrate import upgrade
from bot.settings import Settings
from models.invites import IssuedInvite, issue_unlinked_invites

log = logging.getLogger(__name__)
STARTUP_FAILURE = 3  # uvicorn's exit code for a start that failed
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
RESTART_PAUSE_MAX = 60.0  # seconds: the longest pause before a worker that keeps ending starts again

# On SIGTERM, requests still open after this many seconds are ended (the web chat's long polls
# are answered at once, see Server; this bounds anything else slow, an upload on 2G).
GRACEFUL_SHUTDOWN_SECONDS = 3


class Server(uvicorn.Server):
    """uvicorn's server, calling ``on_stop`` when it starts to stop, before it waits for the open
    requests: the web chat's long polls are answered then, so the shutdown ends them cleanly
    instead of cutting them off (a 500 to the page, an error in the log) after the grace time.
    With ``settles`` (a process of its own, as `chibo serve`'s), what its start-up built is then
    kept out of the garbage collector's full passes (``keep_out_of_full_collections``)."""

    def __init__(
        self, config: uvicorn.Config, on_stop: Callable[[], None] | None = None, *, settles: bool = False
    ) -> None:
        super().__init__(config)
        self._on_stop = on_stop
        self._settles = settles

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # ``settles``: the process is this server's alone (`chibo serve`, not a test's server).
        if self._settles and not self.should_exit:
            from bot.runtime import keep_out_of_full_collections  # loaded by the app already

            keep_out_of_full_collections()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_stop is not None:
            self._on_stop()
        await super().shutdown(sockets=sockets)


def run_app(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    on_stop: Callable[[], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, as `chibo serve` does (the benches run it so too), on
    ``host``:``port`` or on ``sock``, bound already (`chibo serve`'s workers share one). A start
    that fails (the app's start-up raised) ends the process with uvicorn's exit code 3."""
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
    server = Server(config, on_stop, settles=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how it is stopped by hand, as uvicorn.run has it
        server.run(sockets=None if sock is None else [sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _serve(settings: Settings) -> None:
    _refuse_a_port_in_use(settings.host, settings.port)
    reach_database(settings)
    if settings.workers > 1:
        _serve_workers(settings)
        return
    from webhooks.app import create_app, end_long_polls  # the web stack loads only for the commands that serve

    app = create_app(settings)
    run_app(app, settings.host, settings.port, on_stop=lambda: end_long_polls(app))


def _end_with(parent: int) -> None:
    """This worker is stopped (SIGTERM) when `chibo serve` ends without stopping it (SIGKILL, the
    OOM killer), rather than serving on unsupervised, holding the port (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it ended before that took effect
        sys.exit(0)


# Linux spreads the connections to one port evenly between the sockets listening on it with
# SO_REUSEPORT. One socket shared by every worker does not: whichever worker wakes first accepts
# every connection waiting (asyncio takes up to the backlog at a wake), and a page keeps its
# connection, so 200 pages opened together split 130 to 70 and one worker's queue set their wait.
SPREADS_CONNECTIONS = sys.platform == "linux"
BACKLOG = 2048  # uvicorn's


def _port_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A socket bound to ``host``:``port`` (OSError if it is taken); ``shared``: one the other
    workers may bind too (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _port_socket_or_exit(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """``_port_socket``; a port taken is said in one line and ends the command, as uvicorn's bind does."""
    try:
        return _port_socket(host, port, shared=shared)
    except OSError as error:
        log.error("%s", error)
        sys.exit(STARTUP_FAILURE)


def _refuse_a_port_in_use(host: str, port: int) -> None:
    """Ends the command (exit 3) if anything listens on the port, before anything is started: a
    second `chibo serve` would otherwise join the first's workers on it (SO_REUSEPORT lets every
    process of the same user in) and take a share of its members, or, alone, run its whole
    start-up and the migrations before uvicorn's own bind failed."""
    _port_socket_or_exit(host, port, shared=False).close()


def _work(settings: Settings, index: int, sock: socket.socket, parent: int) -> None:
    """One of `chibo serve`'s workers, in a process of its own: the whole service on the port
    (``sock``: its own socket on it where the kernel spreads the connections, else the socket they
    all accept from); only the first polls the platforms and delivers the outbox."""
    _end_with(parent)
    # A hang-up (the terminal closed) reaches the whole group: `chibo serve` then stops the workers.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging(settings.log_format, settings.log_level)
    from webhooks.app import create_app, end_long_polls

    try:
        app = create_app(settings, migrate=False, leads=index == 0)
    except Exception:
        log.exception("chibo: worker %d could not be made", index)
        sys.exit(STARTUP_FAILURE)  # as uvicorn's failed start: bad code or settings, fatal at first
    run_app(app, settings.host, settings.port, on_stop=lambda: end_long_polls(app), sock=sock)


def _serve_workers(settings: Settings) -> None:
    """CHIBO_WORKERS processes on one port, each a whole chibo as replicas are (scheduled jobs claim
    their rows; the web chat's pages are woken through PostgreSQL), except that only the first
    polls the platforms and delivers the outbox (the others announce what they queue). This
    process binds the port, applies the migrations once, starts them and waits: SIGTERM, Ctrl+C
    or a hang-up stops them all gracefully. A worker that ends is started again, after a pause that
    grows while it keeps ending soon after its start (a database down for a while); one of the
    first that could not start stops them all with its exit code (bad code or settings: it would
    fail again)."""
    from prometheus_client.multiprocess import mark_process_dead

    from bot.metrics import MULTIPROCESS_DIRECTORY

    if SPREADS_CONNECTIONS:
        # A listening socket for each worker, all made here before anything starts: the port is
        # this service's from the first moment (a second `chibo serve` is refused even while this
        # one migrates), and connections wait on them until the workers take them. A worker's
        # socket is closed when it ends (the kernel then sends its share to the others, rather
        # than leave it waiting on a worker that may not come back soon), and made anew, bound but
        # not listening, when it starts again: its server listens once it can answer (seconds).
        sockets = [_port_socket_or_exit(settings.host, settings.port)]
        port = sockets[0].getsockname()[1]  # the one it was given, when asked for any (0)
        sockets += [_port_socket_or_exit(settings.host, port) for _ in range(1, settings.workers)]
        for sock in sockets:
            sock.listen(BACKLOG)
    else:
        # log_config=None: uvicorn's own would replace the configured logging (CHIBO_LOG_FORMAT=json).
        shared = uvicorn.Config(
            "webhooks.app:create_app", host=settings.host, port=settings.port, log_config=None
        ).bind_socket()
        sockets = [shared] * settings.workers
    bound_port = sockets[0].getsockname()[1]
    asyncio.run(upgrade(settings.database_url))
    settings.ballot_secret()  # the key file, when it is to be made, made once here
    # Each worker's counters in files here, summed by whichever worker answers /metrics.
    metrics = tempfile.mkdtemp(prefix="chibo-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = metrics  # for prometheus_client in the workers: its only way in
    spawn = multiprocessing.get_context("spawn")  # not fork: a fresh interpreter, no inherited threads
    started_at: dict[int, float] = {}
    pause = dict.fromkeys(range(settings.workers), 0.0)
    first = set(range(settings.workers))  # not yet started again: a failed start of theirs is fatal
    due: dict[int, float] = {}  # ended workers, and when they start again

    def start(index: int) -> BaseProcess:
        if sockets[index].fileno() == -1:  # closed when its worker ended
            sockets[index] = _port_socket(settings.host, bound_port)
        worker = spawn.Process(
            target=_work, args=(settings, index, sockets[index], os.getpid()), name=f"chibo-worker-{index}"
        )
        worker.start()
        started_at[index] = time.monotonic()
        return worker

    stopping = False
    workers: list[BaseProcess] = []

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            worker.terminate()  # SIGTERM: each finishes what it is doing, as `chibo serve` alone does

    def replace(index: int) -> None:
        worker = start(index)
        if index < len(workers):
            workers[index] = worker
        else:
            workers.append(worker)
        if stopping:  # the stop came while it was being started: it missed the SIGTERM
            worker.terminate()

    # A hang-up (the terminal closed) stops them, unless `nohup` asked to ignore it.
    hang_up = [signal.SIGHUP] if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN else []
    for stopping_signal in (signal.SIGINT, signal.SIGTERM, *hang_up):
        signal.signal(stopping_signal, stop)
    try:
        for index in range(settings.workers):
            replace(index)
        log.info("chibo: %d workers on http://%s:%s/", settings.workers, settings.host, settings.port)
        while not stopping:
            now = time.monotonic()
            for index in [index for index, at in due.items() if at <= now]:
                del due[index]
                try:
                    replace(index)
                except OSError as error:  # the port taken meanwhile (every worker was down): later
                    log.error("chibo: worker %d cannot take the port (%s); again in a minute", index, error)
                    due[index] = now + RESTART_PAUSE_MAX
            alive = [worker.sentinel for index, worker in enumerate(workers) if index not in due]
            multiprocessing.connection.wait(alive, min(due.values()) - now if due else None)
            for index, worker in enumerate(workers):
                if stopping or index in due or worker.exitcode is None:
                    continue
                if worker.exitcode == STARTUP_FAILURE and index in first:
                    log.error("chibo: worker %d could not start; stopping", index)
                    stop(signal.SIGTERM, None)
                    for other in workers:
                        other.join()
                    sys.exit(STARTUP_FAILURE)
                first.discard(index)
                lived = time.monotonic() - started_at[index]
                pause[index] = 1.0 if lived > RESTART_PAUSE_MAX else min(RESTART_PAUSE_MAX, max(1.0, 2 * pause[index]))
                log.error(
                    "chibo: worker %d ended (exit code %s); starting it again in %.0f s",
                    index,
                    worker.exitcode,
                    pause[index],
                )
                if worker.pid is not None:
                    mark_process_dead(worker.pid, metrics)  # type: ignore[no-untyped-call]  # not annotated upstream
                if SPREADS_CONNECTIONS:
                    sockets[index].close()
                due[index] = time.monotonic() + pause[index]
        for worker in workers:
            worker.join()
    finally:
        for sock in sockets:
            sock.close()
        shutil.rmtree(metrics, ignore_errors=True)


def serve() -> None:
    """Apply migrations, then run the web service, the web chat and the enabled platforms."""
    _serve(settings_or_exit())


def demo() -> None:
    """Seed the demo commune (once), print an invite code per member, then serve."""
    settings = settings_or_exit()
    _refuse_a_port_in_use(settings.host, settings.port)  # before codes are printed for a server that cannot start
    reach_database(settings)
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
