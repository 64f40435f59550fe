"""How big and how quick to start ``chibo serve`` is. Run by hand:

    .venv/bin/python -m bench.footprint [--runs 5] [--idle 3]

Each run spawns ``python -m bot serve`` (what the ``chibo`` script runs) in an empty temporary
directory (so no ``.env`` is read) on a new SQLite database, and measures the time from the spawn to
the first 200 from ``/healthz``; this first start runs every migration. It then stops it and starts
it again on the same database, as every later start does, and measures that start, the CPU time the
server used until it answered (steadier than the wall time when other work shares the machine) and
the resident memory (VmRSS in /proc/<pid>/status) after it has idled a few seconds.

It does so with no platform configured (the README's first command's setup: web chat only), then
with each channel configured in turn, its API base pointing at a stand-in that answers every call
with success (the adapters' start-up calls, setWebhook and setMyCommands, must succeed), and prints
the medians and what each channel adds. Finally it prints the slowest imports of ``webhooks.app``
from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKE_PORT = 0  # set in main(): the port of the stand-in platform
NOWHERE = "http://127.0.0.1:{fake}"
START_TIMEOUT = 60.0

# What each configuration adds to the environment; "none" is the README's first command's setup.
CONFIGS: dict[str, dict[str, str]] = {
    "none": {},
    "telegram": {
        "CHIBO_TELEGRAM_TOKEN": "123456:" + "A" * 35,
        "CHIBO_TELEGRAM_MODE": "webhook",
        "CHIBO_TELEGRAM_API_BASE": NOWHERE,
        "CHIBO_PUBLIC_URL": "https://chibo.invalid",
        "CHIBO_WEBHOOK_SECRET": "bench-secret",
    },
    "zalo_bot": {
        "CHIBO_ZALO_BOT_TOKEN": "123456:bench-token",
        "CHIBO_ZALO_BOT_MODE": "webhook",
        "CHIBO_ZALO_BOT_API_BASE": NOWHERE,
        "CHIBO_PUBLIC_URL": "https://chibo.invalid",
        "CHIBO_ZALO_BOT_SECRET": "bench-secret",
    },
    "zalo_oa": {
        "CHIBO_ZALO_OA_APP_ID": "1234567890",
        "CHIBO_ZALO_OA_SECRET_KEY": "bench-secret-key",
        "CHIBO_ZALO_OA_APP_SECRET": "bench-app-secret",
        "CHIBO_ZALO_OA_REFRESH_TOKEN": "bench-refresh-token",
        "CHIBO_ZALO_OA_API_BASE": NOWHERE,
        "CHIBO_ZALO_OA_OAUTH_BASE": NOWHERE,
    },
}


class Platform(BaseHTTPRequestHandler):
    """Any platform API, answering every call with success."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"ok": true, "result": true, "error": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) / 1024


def cpu_seconds(pid: int) -> float:
    """User and system time the process has used: on a busy machine, steadier than the wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def serve_once(config: str, directory: str, env: dict[str, str], idle: float) -> tuple[float, float, float]:
    """Seconds from spawn to the first 200 from /healthz, the CPU seconds the server used until
    then, and megabytes resident after idling."""
    port = free_port()
    log = Path(directory) / f"serve-{port}.log"
    started = time.perf_counter()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=directory,
            env=env | {"CHIBO_PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        while not healthy(port):
            if server.poll() is not None:
                raise SystemExit(f"{config}: chibo serve exited:\n{log.read_text()[-3000:]}")
            if time.perf_counter() - started > START_TIMEOUT:
                raise SystemExit(f"{config}: no 200 from /healthz within {START_TIMEOUT} s")
            time.sleep(0.02)
        start_seconds = time.perf_counter() - started
        cpu = cpu_seconds(server.pid)
        time.sleep(idle)  # let the start-up work (first scheduler jobs, first polls) settle
        return start_seconds, cpu, rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def one_run(config: str, idle: float) -> tuple[float, float, float, float]:
    """The first start (on a new database, so with every migration), then a restart on the same
    database (the usual case): the two start times, the restart's CPU time and idle RSS."""
    with tempfile.TemporaryDirectory() as directory:
        # Bytecode is written, so chibo's own modules are compiled once, as an installed wheel has
        # them (pip compiles them at install): with PYTHONDONTWRITEBYTECODE (set in the image and
        # here) a checkout would compile all of them at every start, about 0.3 s of CPU.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CHIBO_") and key != "PYTHONDONTWRITEBYTECODE"
        }
        env |= {
            "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/chibo.db",
            "PYTHONPATH": str(ROOT),
        } | {key: value.format(fake=FAKE_PORT) for key, value in CONFIGS[config].items()}
        first, _, _ = serve_once(config, directory, env, idle=0)
        restart, cpu, rss = serve_once(config, directory, env, idle)
        return first, restart, cpu, rss


def import_offenders(count: int) -> list[tuple[int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import webhooks.app"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds to idle before reading VmRSS")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()

    global FAKE_PORT
    platform = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    FAKE_PORT = platform.server_address[1]
    threading.Thread(target=platform.serve_forever, daemon=True).start()

    medians: dict[str, tuple[float, float]] = {}
    for config in args.configs:
        runs = [one_run(config, args.idle) for _ in range(args.runs)]
        firsts = [first for first, _, _, _ in runs]
        starts = [start for _, start, _, _ in runs]
        cpus = [cpu for _, _, cpu, _ in runs]
        sizes = [memory for _, _, _, memory in runs]
        medians[config] = (statistics.median(starts), statistics.median(sizes))
        print(
            f"{config:9} first start {statistics.median(firsts):5.2f} s"
            f"   restart to /healthz {medians[config][0]:5.2f} s (min {min(starts):.2f}, max {max(starts):.2f})"
            f" using {statistics.median(cpus):4.2f} s of CPU"
            f"   idle RSS {medians[config][1]:6.1f} MB (min {min(sizes):.1f}, max {max(sizes):.1f})",
            flush=True,
        )

    if "none" in medians:
        bare_start, bare_rss = medians["none"]
        print(
            f"\nno platform: restart {bare_start:.2f} s = {bare_start / 2.0:.2f} x the 2 s goal,"
            f" RSS {bare_rss:.1f} MB = {bare_rss / 120:.2f} x the 120 MB goal"
        )
        for config, (start, rss) in medians.items():
            if config != "none":
                print(
                    f"{config:9} adds {start - bare_start:+5.2f} s ({start / bare_start:.2f} x)"
                    f" and {rss - bare_rss:+6.1f} MB ({rss / bare_rss:.2f} x)"
                )

    print("\nslowest imports of webhooks.app (cumulative microseconds, python -X importtime):")
    for micros, name in import_offenders(15):
        print(f"{micros:>10}  {name}")


if __name__ == "__main__":
    main()
