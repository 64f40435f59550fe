"""200 web chat sessions at once, measured (run by hand; not a test).

`chibo serve` runs (CHIBO_WORKERS one per core, as a commune deploys it) while this process plays the members:
each opens a session, joins with its invite code, taps a button ("me"), types a question, and polls
for its replies the way the page does when a request was lost (the same message id sent again: the
kept replies come back). All of them start together, and each retries a 5xx as the page does.
Prints, per step and overall, the requests per second, latency percentiles (what a member waited,
retries included), the server's CPU time per request, retries, errors and the ratios against the
target (p99 under 1 s on this 2-core machine, no errors).

    .venv/bin/python bench/webchat.py                      # PostgreSQL on 127.0.0.1, 200 sessions
    .venv/bin/python bench/webchat.py --database-url sqlite+aiosqlite:///bench.db --sessions 50 --workers 1
    .venv/bin/python bench/webchat.py --db-timeout 10      # queue for the pool longer before a 503
    .venv/bin/python bench/webchat.py --workers 1          # CHIBO_WORKERS (default: one per core)
    .venv/bin/python bench/webchat.py --profile /tmp/prof  # the server's cProfile, written when it stops (one process)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.votes import _free_port, _postgres_cpu, _serve, fresh_database
from bot.demo import seed_demo
from bot.migrate import upgrade
from bot.settings import Settings
from models.db import create_engine, session_factory
from models.invites import issue_unlinked_invites
from models.tables import Branch, Committee, Member

BALLOT_KEY = "a-server-secret-for-the-web-chat-bench-only"
TARGET_P99 = 1.0
WARM_UP = 10  # sessions run through every step first, not counted
STEPS = ("session", "join", "tap", "ask", "poll")
MAX_ATTEMPTS = 6  # as the page: a 5xx is sent again five times, then the member is told


async def _seed(database_url: str, sessions: int) -> list[str]:
    """The demo commune plus a branch of ``sessions`` members, each with a fresh invite code."""
    settings = Settings(_env_file=None, database_url=database_url, ballot_key=BALLOT_KEY)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine, ballot_secret=settings.ballot_secret)() as session, session.begin():
            await seed_demo(session)
            committee = (await session.exec(select(Committee))).one()
            assert committee.id is not None
            branch = Branch(committee_id=committee.id, code="BENCH", name="Chi bộ đo tải")
            session.add(branch)
            await session.flush()
            assert branch.id is not None
            session.add_all(Member(branch_id=branch.id, full_name=f"Đảng viên {i:03d}") for i in range(sessions))
            await session.flush()
            issued = await issue_unlinked_invites(session, branch_id=branch.id)
    finally:
        await engine.dispose()
    return [invite.code for invite in issued]


class Browser:
    """One browser: its session token, and what each of its requests took."""

    def __init__(self, client: aiohttp.ClientSession, url: str, code: str) -> None:
        self.client, self.url, self.code = client, url, code
        self.token = ""
        self.latencies: dict[str, float] = {}
        self.errors: list[str] = []
        self.retries: dict[str, int] = defaultdict(int)

    async def _post(self, step: str, path: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """One request as the page sends it: a 5xx or a lost connection is sent again after 1, 2,
        4, 8 and 15 s (the page's backoff); the latency is what the member waited, retries included."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        started = time.perf_counter()
        delay, status, outcome = 1.0, 0, ""
        answer: dict[str, Any] = {}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.client.post(self.url + path, json=body, headers=headers) as response:
                    status, outcome = response.status, str(response.status)
                    answer = await response.json(content_type=None) if status < 500 else {}
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:
                status, outcome = 0, f"{error!r}"[:120]
            if 0 < status < 500 or attempt == MAX_ATTEMPTS:
                break
            self.retries[step] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)
        self.latencies[step] = time.perf_counter() - started
        if status != 200:
            self.errors.append(f"{step}: {outcome}")
            return None
        return answer

    async def run(self) -> None:
        opened = await self._post("session", "/api/webchat/session", None)
        if opened is None:
            return
        self.token = opened["token"]
        joined = await self._post("join", "/api/webchat/messages", {"id": "join", "text": self.code})
        if joined is None or "token" not in joined:
            self.errors.append("join: not linked")
            return
        self.token = joined["token"]
        for step, body in (
            ("tap", {"id": "tap", "payload": "me"}),
            ("ask", {"id": "ask", "text": "lịch họp"}),
            ("poll", {"id": "ask", "text": "lịch họp"}),  # the same id again: the kept replies
        ):
            answered = await self._post(step, "/api/webchat/messages", body)
            if answered is not None and not answered.get("replies"):
                self.errors.append(f"{step}: no replies")


def _cpu_seconds(pid: int) -> float:
    """The CPU time process ``pid`` and all it started (`chibo serve`'s workers) have used so far;
    0 where /proc is not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return own + sum(_cpu_seconds(int(child)) for child in children)


@contextlib.asynccontextmanager
async def _serve_command(options: dict[str, str], workers: int) -> AsyncIterator[tuple[str, int]]:
    """`chibo serve` itself, with CHIBO_WORKERS=``workers``: its URL and process id."""
    port = _free_port()
    clean = {key: value for key, value in os.environ.items() if not key.startswith("CHIBO_")}
    env = {f"CHIBO_{key.upper()}": value for key, value in options.items()}
    env |= {"CHIBO_PORT": str(port), "CHIBO_WORKERS": str(workers), "CHIBO_LOG_LEVEL": "WARNING"}
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", env=clean | env)
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        await server.wait()


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _report(label: str, latencies: list[float], seconds: float | None = None) -> float:
    ordered = sorted(latencies)
    p50, p90, p99 = (_percentile(ordered, share) for share in (0.5, 0.9, 0.99))
    rate = f"{len(ordered) / seconds:7.1f} req/s" if seconds else " " * 13
    print(
        f"  {label:<8} {len(ordered):5d} req  {rate}  p50 {p50 * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms  "
        f"p99 {p99 * 1000:7.1f} ms  max {ordered[-1] * 1000:7.1f} ms"
    )
    return p99


async def _ready(url: str) -> None:
    """Wait for the server (a spawned process imports everything anew: slow on a busy machine)."""
    async with aiohttp.ClientSession() as client:
        for _ in range(1200):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with client.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit(f"chibo did not start at {url}")


async def _run(url: str, codes: list[str]) -> tuple[float, list[Browser]]:
    connector = aiohttp.TCPConnector(limit=0)  # every browser its own connection, as 200 phones would
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        members = [Browser(client, url, code) for code in codes]
        started = time.perf_counter()
        await asyncio.gather(*(member.run() for member in members))
        return time.perf_counter() - started, members


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--db-timeout", help="CHIBO_DB_TIMEOUT_SECONDS for the server (default: its own, 2 s)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="CHIBO_WORKERS (default: one per core, as deployed)"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="write the server's CPU profile (cProfile) to DIR (one process: no --workers)"
    )
    args = parser.parse_args()
    async with fresh_database(args.database_url) as database_url:
        await upgrade(database_url)
        codes = await _seed(database_url, args.sessions + WARM_UP)
        options = {
            "database_url": database_url,
            "ballot_key": BALLOT_KEY,
            "webchat_sessions_per_address": "100000",  # every browser here comes from 127.0.0.1
        }
        if args.db_timeout:
            options["db_timeout_seconds"] = args.db_timeout
        async with contextlib.AsyncExitStack() as stack:
            if args.profile:  # in a process of the bench's own making, which writes the profile
                url = await stack.enter_async_context(_serve("chibo", options | {"profile": args.profile}))
                (child,) = multiprocessing.active_children()
                pid = child.pid or 0
            else:
                url, pid = await stack.enter_async_context(_serve_command(options, args.workers))
            await _ready(url)
            await _run(url, codes[:WARM_UP])
            cpu_before, postgres_before, bench_before = _cpu_seconds(pid), _postgres_cpu(), time.process_time()
            seconds, members = await _run(url, codes[WARM_UP:])
            cpu = _cpu_seconds(pid) - cpu_before
            postgres_cpu, bench_cpu = _postgres_cpu() - postgres_before, time.process_time() - bench_before
    by_step: dict[str, list[float]] = defaultdict(list)
    for member in members:
        for step, latency in member.latencies.items():
            by_step[step].append(latency)
    every = [latency for latencies in by_step.values() for latency in latencies]
    errors = [error for member in members for error in member.errors]
    retries = {step: sum(member.retries[step] for member in members) for step in STEPS}
    whole = [sum(member.latencies.values()) for member in members]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    workers = 1 if args.profile else args.workers
    print(
        f"{args.sessions} web chat sessions at once, {database_url.split(':')[0]}, {workers} worker(s), "
        f"{seconds:.2f} s in all"
    )
    print(f"  load average (1, 5, 15 min) at the end: {load}; {os.cpu_count()} cores")
    for step in STEPS:
        if by_step[step]:
            _report(step, by_step[step])
    p99 = _report("all", every, seconds)
    _report("member", whole)
    requests = len(every) + sum(retries.values())
    print(f"  server CPU {cpu:.2f} s: {cpu / requests * 1000:.1f} ms a request ({requests} with the retries)")
    print(
        f"  beside it, PostgreSQL {postgres_cpu / requests * 1000:.1f} ms and these browsers "
        f"{bench_cpu / requests * 1000:.1f} ms a request; {os.cpu_count()} cores x {seconds:.2f} s = "
        f"{(os.cpu_count() or 1) * seconds / requests * 1000:.1f} ms a request to share"
    )
    print(f"  retried  {sum(retries.values())} times after a 5xx or a lost connection: {retries}")
    print(f"  errors   {len(errors)} of {len(every)} requests ({len(errors) / max(1, len(every)):.2%}), after retries")
    for error, count in sorted({e: errors.count(e) for e in errors}.items()):
        print(f"    {count:4d}  {error}")
    print(f"  ratio p99 / target ({TARGET_P99:.0f} s)  {p99 / TARGET_P99:6.2f}   (target <= 1)")
    print(f"  ratio p99 / p50             {p99 / _percentile(sorted(every), 0.5):6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
