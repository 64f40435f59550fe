"""A small footprint with no platform configured: serving the web chat alone loads no platform's
library and none of the heavy ones that only some replies or commands need (bench/footprint.py
measures the memory and start time this buys)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from bot.cli.server import Server

# The command line and the app, started on a fresh SQLite database with every enabled channel
# opened (the lifespan runs: migrations, the web chat, the delivery worker, the scheduler).
SERVE_AND_LIST_MODULES = """
import json, sys
from fastapi.testclient import TestClient
import bot.cli
from bot.settings import Settings
from webhooks.app import create_app

settings = Settings(_env_file=None)
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
print(json.dumps(sorted(sys.modules)))
"""

# (Redis's client too: these tests set no CHIBO_REDIS_URL.)
HEAVY = ("aiogram", "aiohttp", "matplotlib", "numpy", "openpyxl", "PIL", "qrcode", "redis")
ADAPTERS = ("bot.channels.telegram", "bot.channels.zalo_bot", "bot.channels.zalo_oa")


def test_serving_with_no_platform_imports_no_platform_library_nor_a_heavy_one(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHIBO_")}
    env |= {
        "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chibo.db",
        "CHIBO_BALLOT_KEY_FILE": str(tmp_path / "ballot-key"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    loaded = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_MODULES], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    modules = set(json.loads(loaded.stdout.splitlines()[-1]))
    assert "webhooks.app" in modules and "bot.channels.web" in modules  # the web chat was opened
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not {m for m in modules if m.startswith(ADAPTERS)}


def test_a_restart_on_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    """The first start migrates (Alembic is loaded then); every later start finds the database at
    the newest revision without it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHIBO_")}
    env |= {
        "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chibo.db",
        "CHIBO_BALLOT_KEY_FILE": str(tmp_path / "ballot-key"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    starts = [
        subprocess.run(
            [sys.executable, "-c", SERVE_AND_LIST_MODULES], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert all(start.returncode == 0 for start in starts), [start.stderr for start in starts]
    first, again = (set(json.loads(start.stdout.splitlines()[-1])) for start in starts)
    assert "alembic" in first
    assert not {m for m in again if m.split(".")[0] in ("alembic", "mako")}


def test_a_configured_channel_loads_its_library(tmp_path: Path) -> None:
    """The check above can fail: Telegram, once configured, does bring aiogram in."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHIBO_")}
    env |= {
        "CHIBO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chibo.db",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    script = """
import json, sys
from bot.channels.registry import CHANNELS
from bot.runtime import Runtime
from bot.settings import Settings

settings = Settings(_env_file=None, telegram_token="123456:" + "A" * 35, ballot_key="k" * 32)
runtime = Runtime.create(settings)
[channel.open(runtime, None) for channel in CHANNELS if channel.enabled(settings)]
print(json.dumps(sorted(sys.modules)))
"""
    loaded = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    modules = set(json.loads(loaded.stdout.splitlines()[-1]))
    assert "aiogram" in modules and "bot.channels.telegram" in modules


async def test_a_server_in_its_own_process_freezes_what_its_start_up_built() -> None:
    """Was: `chibo serve` froze its objects before the app started, so what the start-up loaded (a
    platform's client: Telegram's library alone is about 130 MB of objects) was walked by every
    full pass of the cyclic collector: about 0.2 s every few seconds under load, in which no
    request was answered and no message sent (bench/broadcast.py at 1000/s: 0.86 x L, then 0.92)."""
    built: list[list[dict[str, int]]] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        built.append([{} for _ in range(50_000)])  # what a platform's library would load
        yield

    async def frozen_by(settles: bool) -> int:
        config = uvicorn.Config(FastAPI(lifespan=lifespan), host="127.0.0.1", port=0, log_config=None)
        server = Server(config, settles=settles)
        before = gc.get_freeze_count()
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                assert not serving.done(), serving.result()
                await asyncio.sleep(0.01)
            return gc.get_freeze_count() - before
        finally:
            server.should_exit = True
            await serving
            gc.unfreeze()  # the test process goes on collecting as before

    assert await frozen_by(settles=True) >= 50_000
    assert await frozen_by(settles=False) == 0  # a test's server leaves its process as it is
