"""Applying the Alembic migrations from code (``chibo db upgrade`` and ``chibo serve``).

Alembic is imported only when there is something to migrate: on the usual start the database is
already at the newest revision, which is read from the migration files and the ``alembic_version``
table directly (importing Alembic and running its environment cost about a third of a second of
the start)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from models.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

# migrations/ sits beside the packages both in a checkout and in an installed wheel.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# A migration file's own revision and the one it follows, as Alembic writes them (``revision: str = '0002'``).
_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*['\"]([\w-]+)['\"]\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|['\"]([\w-]+)['\"])\s*$", re.MULTILINE)


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str | None:
    """The newest revision of the migration files, or None when the files do not say it plainly
    (a merge, a branch, a form not read here): then Alembic decides."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1) is not None:
            followed.add(down.group(1))
    heads = revisions - followed
    return heads.pop() if len(heads) == 1 else None


async def at_head(database_url: str) -> bool:
    """Whether the database is already at the newest revision (False when that cannot be told:
    no such table, a database that does not answer; Alembic then says what is wrong)."""
    head = head_revision()
    if head is None:
        return False
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            current = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:
        return False
    finally:
        await engine.dispose()
    return current == [head]


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``. Alembic's env runs its own event loop work
    through ``run_sync``, so it is called from a worker thread to stay out of ours."""
    if revision == "head" and await at_head(database_url):
        return
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
