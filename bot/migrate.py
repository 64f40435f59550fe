"""Applying the Alembic migrations from code (``chibo db upgrade`` and ``chibo serve``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

# migrations/ sits beside the packages both in a checkout and in an installed wheel.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``. Alembic's env runs its own event loop work
    through ``run_sync``, so it is called from a worker thread to stay out of ours."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
