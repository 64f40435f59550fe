"""The OA's tokens: an access token that expires within a day, renewed with a refresh token that
changes on every renewal, so both live in the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.zalo_oa.client import Grant, ZaloOaClient, ZaloOaError
from bot.channels.zalo_oa.facts import FORCED_REFRESH_INTERVAL, INVALID_TOKEN, REFRESH_LEASE, REFRESH_MARGIN
from models.db import insert_ignoring_conflict, is_database_unavailable
from models.tables import ZaloOaToken, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Refreshed:
    """New tokens, under the claim (the row's version) that allowed the refresh."""

    claimed: int
    grant: Grant
    used: str  # the refresh token that obtained them
    obtained_at: datetime


class TokenUnavailable(Exception):
    """No usable access token now: none stored, the refresh failed, or another process is refreshing."""


class OaTokens:
    """The OA's access token, refreshed before it expires and when Zalo refuses it.

    The tokens live in the database (the refresh token changes on every refresh, so it exists
    nowhere else). Within a process a lock lets one task refresh; across processes a
    compare-and-set on the row's ``version`` lets one process refresh, with a lease in case it dies.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: ZaloOaClient,
        app_id: str,
        app_secret: str,
        initial_refresh_token: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._app_id = app_id
        self._app_secret = app_secret
        self._initial = initial_refresh_token
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: tuple[str, datetime] | None = None  # the access token and its expiry
        self._unstored: _Refreshed | None = None  # new tokens the database was not there to take

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is close to expiring."""
        current = self._current
        if current is not None and not self._due(current[1]):
            return current[0]
        async with self._lock:
            row = await self._row()
            if row.access_token and row.expires_at is not None and not self._due(row.expires_at):
                return self._keep(row.access_token, row.expires_at)
            return await self._refresh(row, refused=None)

    async def call(self, call: Callable[[str], Awaitable[T]]) -> T:
        """``call`` with the access token; once more with a new one when Zalo refuses it (expired
        early or revoked; a second refusal is the caller's to handle)."""
        token = await self.access_token()
        try:
            return await call(token)
        except ZaloOaError as error:
            if error.code not in INVALID_TOKEN:
                raise
            return await call(await self.replace(token))

    async def replace(self, refused: str) -> str:
        """An access token to use instead of ``refused``: one another task or process already got,
        else a refresh."""
        async with self._lock:
            self._current = None
            row = await self._row()
            if self._usable(row, refused):
                assert row.access_token is not None and row.expires_at is not None
                return self._keep(row.access_token, row.expires_at)
            if row.access_token == refused and self._clock() - row.updated_at < FORCED_REFRESH_INTERVAL:
                raise TokenUnavailable("Zalo refused an access token issued moments ago; check the app and the OA")
            return await self._refresh(row, refused=refused)

    def _due(self, expires_at: datetime) -> bool:
        return expires_at - self._clock() <= REFRESH_MARGIN

    def _usable(self, row: ZaloOaToken, refused: str | None) -> bool:
        return (
            row.access_token is not None
            and row.access_token != refused
            and row.expires_at is not None
            and row.expires_at > self._clock()
        )

    def _keep(self, access_token: str, expires_at: datetime) -> str:
        self._current = (access_token, expires_at)
        return access_token

    async def _row(self) -> ZaloOaToken:
        """The stored tokens; the first time, seeded from the initial refresh token setting."""
        async with self._sessions() as session, session.begin():
            row = await session.get(ZaloOaToken, self._app_id)
            if row is None and self._initial:
                # Only when the database holds none: afterwards the setting is stale (rotated).
                await insert_ignoring_conflict(
                    session,
                    ZaloOaToken,
                    app_id=self._app_id,
                    refresh_token=self._initial,
                    updated_at=self._clock(),
                    version=0,
                )
                row = await session.get(ZaloOaToken, self._app_id)
        if row is None:
            raise TokenUnavailable("no Zalo OA refresh token stored; set CHIBO_ZALO_OA_REFRESH_TOKEN")
        return row

    async def _refresh(self, row: ZaloOaToken, refused: str | None) -> str:
        unstored, self._unstored = self._unstored, None
        if unstored is not None and unstored.claimed == row.version:
            # Our refresh got new tokens but the database was away: our claim still stands, so they
            # are stored now rather than refreshed again.
            return await self._store(unstored, refused)
        now = self._clock()
        claimed = row.version + 1
        async with self._sessions() as session, session.begin():
            won = await session.exec(
                update(ZaloOaToken)
                .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == row.version)
                .where(or_(col(ZaloOaToken.refreshing_until).is_(None), col(ZaloOaToken.refreshing_until) < now))
                .values(version=claimed, refreshing_until=now + REFRESH_LEASE)
            )
        if not won.rowcount:
            # Another process is refreshing, or has just stored: its token, or the old one while valid.
            latest = await self._row()
            if self._usable(latest, refused):
                assert latest.access_token is not None and latest.expires_at is not None
                return self._keep(latest.access_token, latest.expires_at)
            raise TokenUnavailable("another process is refreshing the Zalo OA access token")
        try:
            grant, used = await self._grant(row)
        except Exception:
            await self._release(claimed)
            raise
        return await self._store(_Refreshed(claimed, grant, used, self._clock()), refused)

    async def _store(self, refreshed: _Refreshed, refused: str | None) -> str:
        """Store new tokens under our claim, then use them.

        Zalo has rotated the refresh token: the new one exists only in this process until this
        commit, so it is stored, with the one it replaced, before the new access token is used.
        Should the process die before the commit, the row still holds the refresh token just used,
        which Zalo reportedly honours until its successor is used, and nothing has used that
        successor: the next refresh (once the claim's lease ends) succeeds. Should the database
        fail instead, the tokens are kept here and stored on the next attempt.
        """
        grant = refreshed.grant
        expires_at = refreshed.obtained_at + grant.expires_in
        try:
            async with self._sessions() as session, session.begin():
                stored = await session.exec(
                    update(ZaloOaToken)
                    .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == refreshed.claimed)
                    .values(
                        access_token=grant.access_token,
                        refresh_token=grant.refresh_token,
                        previous_refresh_token=refreshed.used,
                        expires_at=expires_at,
                        updated_at=refreshed.obtained_at,
                        refreshing_until=None,
                        version=refreshed.claimed + 1,
                    )
                )
        except Exception as error:
            if is_database_unavailable(error):
                self._unstored = refreshed
            raise
        if not stored.rowcount:
            # Paused past the lease while another process refreshed and stored: its tokens stand.
            log.warning("zalo oa: a refresh finished after its lease; the other process's tokens are kept")
            latest = await self._row()
            if not self._usable(latest, refused):
                raise TokenUnavailable("the Zalo OA tokens changed during a refresh")
            assert latest.access_token is not None and latest.expires_at is not None
            return self._keep(latest.access_token, latest.expires_at)
        log.info("zalo oa: access token refreshed; it expires at %s", expires_at.isoformat(timespec="seconds"))
        return self._keep(grant.access_token, expires_at)

    async def _grant(self, row: ZaloOaToken) -> tuple[Grant, str]:
        """New tokens from Zalo, and the refresh token that obtained them."""
        try:
            return await self._client.refresh(self._app_id, self._app_secret, row.refresh_token), row.refresh_token
        except ZaloOaError as error:
            previous = row.previous_refresh_token
            if not error.refused or not previous or previous == row.refresh_token:
                raise self._refresh_failed(error) from error
            # The refresh token before the current one is honoured until the current one is used:
            # if the current one was stored but is refused, the previous one may still work.
            log.warning("zalo oa: the refresh token was refused (%s); trying the one before it", error)
        try:
            return await self._client.refresh(self._app_id, self._app_secret, previous), previous
        except ZaloOaError as error:
            raise self._refresh_failed(error) from error

    @staticmethod
    def _refresh_failed(error: ZaloOaError) -> TokenUnavailable:
        if error.refused:
            # Nothing chibo can do alone: a person must authorise the app for the OA again.
            log.error("zalo oa: Zalo refused the refresh token (%s); authorise the app again", error)
        return TokenUnavailable(f"refreshing the Zalo OA access token failed: {error}")

    async def _release(self, claimed: int) -> None:
        """Give up a claim at once, rather than when its lease ends."""
        try:
            async with self._sessions() as session, session.begin():
                await session.exec(
                    update(ZaloOaToken)
                    .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == claimed)
                    .values(refreshing_until=None)
                )
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            log.warning("zalo oa: could not release the refresh claim; its lease will end it")
