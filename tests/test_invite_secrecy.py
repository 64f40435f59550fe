"""No invite code rests anywhere in clear: not in the outbox, not in the web chat's kept replies,
not in the logs. Only its digest keyed by the server's secret is kept (a database reader cannot test
guesses against it); the code exists in the message the secretary received."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from bot.delivery import DeliveryWorker
from bot.runtime import Runtime
from handlers.contract import Inbound, Reply
from models.invites import KEYED, code_digest, find_invite, legacy_digest, new_code
from models.tables import Invite, Platform, utcnow
from tests.chat import say
from tests.conftest import Demo, member_named

SECRETARY, NEWCOMER = 960, 961
_CODE = re.compile(r"\b([A-Z0-9]{4})-([A-Z0-9]{4})\b")


class _Collecting:
    """A platform that receives what the delivery worker sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        self.sent.append((chat_id, reply))


async def _dump(runtime: Runtime, database_url: str) -> str:
    """Every row of every table as text, and pg_dump's output on PostgreSQL when it is installed."""
    parts = []
    async with runtime.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in (await session.exec(select(table))).all()]  # type: ignore[call-overload]
    if database_url.startswith("postgresql") and shutil.which("pg_dump"):
        url = make_url(database_url)
        dump = await asyncio.create_subprocess_exec(
            "pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
            "--data-only", url.database or "",
            stdout=asyncio.subprocess.PIPE, env={"PGPASSWORD": url.password or ""},
        )  # fmt: skip
        output, _ = await dump.communicate()
        assert dump.returncode == 0
        parts.append(output.decode())
    return "\n".join(parts)


def _forms(code: str) -> list[str]:
    bare = code.replace("-", "")
    return [code.upper(), code.lower(), bare.upper(), bare.lower()]


def _assert_nowhere(code: str, text: str) -> None:
    folded = text.lower()
    for form in _forms(code):
        assert form.lower() not in folded, form


async def test_a_code_issued_in_the_web_chat_is_kept_only_masked(
    runtime: Runtime, demo: Demo, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    son = await member_named(runtime, "Mai Văn Sơn")
    asked = Inbound(platform=Platform.WEB, user_id="w960", chat_id="w960", text=demo.code("Lý Văn Quang"))
    await runtime.process(asked, "w-join", answer_inline=True)
    tapped = Inbound(platform=Platform.WEB, user_id="w960", chat_id="w960", payload=f"mi:{son.id}")
    reply = (await runtime.process(tapped, "w-tap", answer_inline=True)).replies[0].text
    found = _CODE.search(reply)
    assert found is not None, reply
    code = found.group(0)
    again = (await runtime.process(tapped, "w-tap", answer_inline=True)).replies[0].text  # a retried request
    # Nothing of the code is kept: half of it beside its hash was found again in a second.
    assert "••••-••••" in again and code not in again and f"{code[:4]}-" not in again

    dump = await _dump(runtime, database_url)
    _assert_nowhere(code, dump)
    assert f"{code[:4]}-" not in dump
    _assert_nowhere(code, "\n".join(r.getMessage() for r in caplog.records))
    joined = await say(runtime, NEWCOMER, code.lower())  # and the code works, once
    assert "Chào mừng đồng chí Mai Văn Sơn" in joined[0].text


async def test_a_code_sent_through_the_outbox_is_made_as_it_is_sent(
    runtime: Runtime, demo: Demo, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    son = await member_named(runtime, "Mai Văn Sơn")
    tapped = Inbound(platform=Platform.TELEGRAM, user_id=str(SECRETARY), chat_id=str(SECRETARY), payload=f"mi:{son.id}")
    await runtime.process(tapped, "t-tap")
    platform = _Collecting()
    worker = DeliveryWorker(runtime.sessions, {Platform.TELEGRAM: platform}, runtime.metrics)
    assert await worker.drain_once() == 1
    await asyncio.sleep(0)
    [(chat, sent)] = platform.sent
    found = _CODE.search(sent.text)
    assert chat == str(SECRETARY) and found is not None and sent.invite_for is None
    code = found.group(0)

    _assert_nowhere(code, await _dump(runtime, database_url))
    _assert_nowhere(code, "\n".join(r.getMessage() for r in caplog.records))
    joined = await say(runtime, NEWCOMER, code)
    assert "Chào mừng đồng chí Mai Văn Sơn" in joined[0].text


async def test_a_stored_code_cannot_be_recomputed_without_the_server_secret(runtime: Runtime, demo: Demo) -> None:
    code = demo.code("Mai Văn Sơn")
    async with runtime.sessions() as session:
        invite = await find_invite(session, code)
    assert invite is not None
    stored = invite.code_hash
    secret = runtime.settings.ballot_secret()
    assert stored.startswith(KEYED) and stored == code_digest(secret, code)
    # What a database reader could compute from the code alone, or with any key but the server's,
    # does not match: a guess cannot be checked against the row (was: its plain SHA-256).
    without_key = {
        legacy_digest(code),
        hashlib.sha256(code.replace("-", "").encode()).hexdigest(),
        hmac.new(b"", code.encode(), hashlib.sha256).hexdigest(),
        code_digest(b"", code),
        code_digest(b"another-server-with-another-secret-key", code),
        code_digest(secret[:-1], code),
    }
    assert stored not in without_key and stored.removeprefix(KEYED) not in without_key
    # The invite key is derived apart from the raw secret: an HMAC keyed by the secret itself does not match.
    raw = hmac.new(secret, code.encode(), hashlib.sha256).digest()
    assert stored != KEYED + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_codes_stored_before_the_keyed_digest_work_until_they_expire(runtime: Runtime, demo: Demo) -> None:
    son, ngoc = await member_named(runtime, "Mai Văn Sơn"), await member_named(runtime, "Hồ Thị Ngọc")
    assert son.id is not None and ngoc.id is not None
    live, lapsed = new_code(), new_code()
    async with runtime.sessions() as session, session.begin():
        session.add(Invite(member_id=son.id, code_hash=legacy_digest(live), expires_at=utcnow() + timedelta(days=3)))
        session.add(
            Invite(member_id=ngoc.id, code_hash=legacy_digest(lapsed), expires_at=utcnow() - timedelta(minutes=1))
        )
    unknown = (await say(runtime, NEWCOMER + 1, "/start ABCD-EFGH"))[0].text
    assert (await say(runtime, NEWCOMER + 2, lapsed))[0].text == unknown
    joined = await say(runtime, NEWCOMER, live.lower())
    assert "Chào mừng đồng chí Mai Văn Sơn" in joined[0].text
    # And a keyed code issued today works beside them.
    assert "Chào mừng đồng chí Hồ Thị Ngọc" in (await say(runtime, NEWCOMER + 3, demo.code("Hồ Thị Ngọc")))[0].text
