"""The sealed ballot box of a secret poll: elections and personnel questions are voted by secret
ballot (bỏ phiếu kín: Quy chế bầu cử trong Đảng; DESIGN.md §4 "Secret ballot"; README "Secret ballot").

While a poll is open each ballot is a row of ``SealedBallot`` holding only ciphertext, sealed to the
poll's public key (X25519, then ChaCha20-Poly1305, like a libsodium sealed box). The private key is
derived from the server's own secret, which never enters the database, and a random salt kept in
``BallotBox`` until the close. The vote writes the voter roll row and the sealed ballot in one
transaction (one ballot per member, nothing lost on a crash); without the server's secret the
ciphertext says nothing, so the transaction id they share links a member to nothing readable.

The close, in one transaction, opens every ballot, writes the counts (``PollTally``) once, deletes
the ballots and erases the salt and the public key: from then on nobody, not even with the server's
secret, can open a ballot again. After the commit ``purge_closed_boxes`` vacuums the dead row
versions away (PostgreSQL) or truncates the write-ahead log (SQLite, where ``secure_delete`` has
already zeroed the deleted bytes).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
from collections.abc import Sequence
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, insert, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import BALLOT_SECRET_INFO, claim, insert_ignoring_conflict, table_of
from models.tables import BallotBox, PollTally, PollVoter, SealedBallot, utcnow
from models.uow import UnitOfWork

log = logging.getLogger(__name__)

SLOTS = 16  # counts per sealed ballot: at least the most options a poll may have
_PLAIN = struct.Struct(f">B{SLOTS}H")  # the kind, then a count per option: always the same size
_NONCE = bytes(12)  # every ballot is sealed with a key of its own (a fresh ephemeral key pair)
_KEY_BYTES = 32


class BallotKind(IntEnum):
    ONLINE = 1  # one member's ballot: 1 for each option chosen
    PAPER_BOX = 2  # the secretary's count of (part of) the paper box: a count per option


class BallotSecretMissing(RuntimeError):
    """A secret poll needs the server's secret, and this session was made without one."""


class BallotBoxBroken(RuntimeError):
    """A sealed ballot that does not open with this server's secret, or ballots that do not match
    the voter roll: the result would be wrong, so the poll is not closed."""


def server_secret(session: AsyncSession) -> bytes:
    loader = session.info.get(BALLOT_SECRET_INFO)
    if loader is None:
        raise BallotSecretMissing("this session has no ballot secret (models.db.session_factory(ballot_secret=...))")
    secret: bytes = loader()  # session_factory(engine, ballot_secret=...) put it there
    return secret


def _poll_private_key(secret: bytes, poll_id: int, salt: bytes) -> X25519PrivateKey:
    info = b"chibo ballot box v1 poll %d" % poll_id
    return X25519PrivateKey.from_private_bytes(HKDF(SHA256(), _KEY_BYTES, salt, info).derive(secret))


def _ballot_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(SHA256(), _KEY_BYTES, None, b"chibo ballot v1" + ephemeral + recipient).derive(shared)


def _aad(poll_id: int) -> bytes:
    return b"chibo poll %d" % poll_id  # a ballot moved to another poll does not open


def seal(public_key: bytes, poll_id: int, kind: BallotKind, counts: Sequence[int]) -> bytes:
    """A ballot only the holder of the poll's private key can read; always the same length."""
    if len(counts) > SLOTS:
        raise ValueError(f"at most {SLOTS} options")
    ephemeral = X25519PrivateKey.generate()
    mine = ephemeral.public_key().public_bytes_raw()
    key = _ballot_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)), mine, public_key)
    plain = _PLAIN.pack(kind, *counts, *([0] * (SLOTS - len(counts))))
    return mine + ChaCha20Poly1305(key).encrypt(_NONCE, plain, _aad(poll_id))


def _unseal(private: X25519PrivateKey, poll_id: int, sealed: bytes) -> tuple[BallotKind, tuple[int, ...]]:
    recipient = private.public_key().public_bytes_raw()
    theirs, body = sealed[:_KEY_BYTES], sealed[_KEY_BYTES:]
    try:
        key = _ballot_key(private.exchange(X25519PublicKey.from_public_bytes(theirs)), theirs, recipient)
        kind, *counts = _PLAIN.unpack(ChaCha20Poly1305(key).decrypt(_NONCE, body, _aad(poll_id)))
        return BallotKind(kind), tuple(counts)
    except (InvalidTag, ValueError, struct.error) as error:
        raise BallotBoxBroken(f"poll {poll_id}: a sealed ballot does not open with this server's secret") from error


async def public_key(session: AsyncSession, poll_id: int) -> bytes:
    """The public key of the poll's box, made (with a fresh salt) on first need."""
    query = select(BallotBox.public_key).where(BallotBox.poll_id == poll_id)
    found = (await session.exec(query)).first()
    if found is None:
        salt = os.urandom(_KEY_BYTES)
        made = _poll_private_key(server_secret(session), poll_id, salt).public_key().public_bytes_raw()
        # Two first ballots at once: one box wins, the other ballot reads it.
        if await insert_ignoring_conflict(session, BallotBox, poll_id=poll_id, salt=salt, public_key=made):
            return made
        found = (await session.exec(query)).first()
    if found is None:
        raise BallotBoxBroken(f"poll {poll_id}: the ballot box has been closed")
    return found


async def key_fits(session: AsyncSession, poll_id: int) -> bool:
    """Whether this server's secret opens the poll's box (True when it has none yet): the key it
    derives from the box's salt must give the public key the ballots were sealed to."""
    box = (await session.exec(select(BallotBox).where(BallotBox.poll_id == poll_id))).first()
    if box is None or box.salt is None:
        return True
    try:
        secret = server_secret(session)
    except BallotSecretMissing:
        return False
    return _poll_private_key(secret, poll_id, box.salt).public_key().public_bytes_raw() == box.public_key


_SEALED = insert(table_of(SealedBallot))


async def drop(
    session: AsyncSession, poll_id: int, box_key: bytes | None, kind: BallotKind, counts: Sequence[int]
) -> None:
    """Put a sealed ballot in the poll's box (``box_key``: its public key, when already read)."""
    sealed = seal(box_key or await public_key(session, poll_id), poll_id, kind, counts)
    await session.exec(_SEALED, params={"poll_id": poll_id, "sealed": sealed})


async def add_paper_count(session: AsyncSession, poll_id: int, ballots: int) -> bool:
    """Count ``ballots`` more paper ballots as entered, unless that makes more than the members the
    roll shows as having voted on paper. One statement, so two secretaries at once cannot overshoot."""
    await public_key(session, poll_id)
    on_paper = (
        select(func.count())
        .select_from(PollVoter)
        .where(PollVoter.poll_id == poll_id, col(PollVoter.entered_by_member_id).is_not(None))
        .scalar_subquery()
    )
    return await claim(
        session, BallotBox, col(BallotBox.poll_id) == poll_id, col(BallotBox.salt).is_not(None),
        col(BallotBox.paper_counted) + ballots <= on_paper, paper_counted=col(BallotBox.paper_counted) + ballots,
    )  # fmt: skip


async def open_and_count(session: AsyncSession, poll_id: int, options: int, max_choices: int) -> tuple[int, ...]:
    """At the close, in its transaction: open every ballot, check them against the roll, write the
    counts once (and the online blank ballots, at index ``options``), delete the ballots and erase
    the box's keys. The counts."""
    box = (await session.exec(select(BallotBox).where(BallotBox.poll_id == poll_id))).first()
    tallied = select(PollTally.option, PollTally.votes).where(PollTally.poll_id == poll_id)
    earlier = dict((await session.exec(tallied)).all())
    totals = [int(earlier.get(i, 0)) for i in range(options)]
    if box is not None and box.salt is not None:
        private = _poll_private_key(server_secret(session), poll_id, box.salt)
        sealed = (await session.exec(select(SealedBallot.sealed).where(SealedBallot.poll_id == poll_id))).all()
        online = paper = blank = 0
        # About 0.4 ms of CPU a ballot: off the event loop, so a large poll's close does not stall
        # every other chat meanwhile.
        opened = await asyncio.to_thread(lambda: [_unseal(private, poll_id, s) for s in sealed])
        for kind, counts in opened:
            if any(counts[options:]):
                raise BallotBoxBroken(f"poll {poll_id}: a ballot for an option the poll does not have")
            if kind is BallotKind.ONLINE:
                online += 1
                blank += not any(counts)
                if max(counts) > 1 or sum(counts) > max_choices:
                    raise BallotBoxBroken(f"poll {poll_id}: an online ballot with too many choices")
            else:
                paper += 1
            totals = [t + c for t, c in zip(totals, counts[:options], strict=True)]
        roll = (
            await session.exec(
                select(func.count())
                .select_from(PollVoter)
                .where(PollVoter.poll_id == poll_id, col(PollVoter.entered_by_member_id).is_(None))
            )
        ).one()
        # Never a voter on the roll without their ballot, nor a ballot without a voter. (A poll
        # opened before the sealed box had its first counts in PollTally: those voters have none.)
        if online != roll and not (earlier and online <= roll):
            raise BallotBoxBroken(f"poll {poll_id}: {online} sealed ballots for {roll} voters on the roll")
        log.info("poll %s: %d sealed ballots and %d paper box counts opened", poll_id, online, paper)
    await session.exec(delete(PollTally).where(col(PollTally.poll_id) == poll_id))
    if totals:
        session.add_all(PollTally(poll_id=poll_id, option=i, votes=n) for i, n in enumerate(totals))
    if box is not None and box.salt is not None and blank:
        # Online ballots that named nobody, one count past the options (``BLANK_TALLY``): with
        # several seats a blank ballot cannot be told from the per-option counts.
        session.add(PollTally(poll_id=poll_id, option=options, votes=blank))
    await session.exec(delete(SealedBallot).where(col(SealedBallot.poll_id) == poll_id))
    if box is not None:
        await session.exec(
            update(BallotBox).where(col(BallotBox.poll_id) == poll_id).values(salt=None, public_key=None)
        )
    await session.flush()
    return tuple(totals)


_DEAD_VERSIONS = (
    "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables "
    "WHERE relid IN ('sealedballot'::regclass, 'ballotbox'::regclass)"
)


async def purge_closed_boxes(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """After a close has committed: make the deleted ballots and erased salts unrecoverable from the
    files, not only invisible. PostgreSQL keeps dead row versions until vacuumed, so the two box
    tables are rewritten (VACUUM FULL: a new file, its indexes rebuilt; both tables are small); SQLite
    has zeroed them on delete (``secure_delete``), and its write-ahead log, which still holds the
    pages as they were, is truncated. Best effort, repeated by the next pass until it succeeds: a
    transaction older than the close keeps the old versions alive until it ends. The polls purged."""
    async with UnitOfWork(sessions) as uow:
        pending = list(
            (
                await uow.session.exec(
                    select(BallotBox.poll_id).where(col(BallotBox.salt).is_(None), col(BallotBox.purged_at).is_(None))
                )
            ).all()
        )
    if not pending:
        return []
    # Outside any transaction (VACUUM cannot run in one): not a unit of work.
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        if connection.dialect.name == "postgresql":
            # A queued VACUUM FULL would hold up every vote behind a long transaction: give up soon
            # and try again at the next pass instead.
            await connection.exec_driver_sql("SET lock_timeout = '2s'")
            try:
                # A plain VACUUM first: it reports the dead versions it could not remove yet (a
                # snapshot older than the close, even an ANALYZE, still sees them).
                await connection.exec_driver_sql("VACUUM sealedballot, ballotbox")
                kept = (await connection.exec_driver_sql(_DEAD_VERSIONS)).scalar_one()
                if kept:
                    log.info("ballot boxes: %s old row versions still visible to a transaction; next pass", kept)
                    return []
                # Then each table is rewritten into a new file: no byte of a deleted ballot or an
                # erased salt is left in the free space of a page.
                for table in ("sealedballot", "ballotbox"):
                    await connection.exec_driver_sql(f"VACUUM FULL {table}")
            finally:
                await connection.exec_driver_sql("RESET lock_timeout")
        else:
            busy = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
            if busy is not None and busy[0]:
                log.info("ballot boxes: the write-ahead log is in use; truncating it at the next pass")
                return []
    async with UnitOfWork(sessions) as uow:
        await uow.session.exec(update(BallotBox).where(col(BallotBox.poll_id).in_(pending)).values(purged_at=utcnow()))
    return pending


# ---- A multi-choice secret ballot being filled in -----------------------------------------------
#
# k of n is filled in k steps, one place each (an option, or the place left blank), so every member
# taps exactly k times and each step's stored reply is the same for everyone: the number of kept
# answers tells nothing. The options chosen so far are never stored: each button carries the mask it
# would make, sealed (ChaCha20-Poly1305, a random nonce) under a key derived from the server's secret
# AND the box's salt, erased at the close: from then on no kept payload opens, not even with the
# server's secret. 12 bytes of nonce, 2 of mask, 16 of tag: 40 characters of base64url, within
# Telegram's 64-byte callback data with the prefix, the poll id and the step.
TICKS_TOKEN = r"[A-Za-z0-9_-]{40}"
_TICKS = struct.Struct(">H")


async def ticks_key(session: AsyncSession, poll_id: int, *, make: bool = False) -> bytes | None:
    """The key of the poll's ballots being filled in (``make``: the box made if it has none yet);
    None once the box is closed."""
    if make:
        await public_key(session, poll_id)
    salt = (await session.exec(select(BallotBox.salt).where(BallotBox.poll_id == poll_id))).first()
    if salt is None:
        return None
    return HKDF(SHA256(), _KEY_BYTES, salt, b"chibo ballot ticks v2 poll %d" % poll_id).derive(server_secret(session))


def _ticks_aad(poll_id: int, step: int) -> bytes:
    return b"chibo poll %d step %d" % (poll_id, step)  # moved to another poll or step, it does not open


def seal_ticks(key: bytes, poll_id: int, step: int, mask: int) -> str:
    """The options chosen up to ``step`` of a ballot, readable only with the poll's ``ticks_key``."""
    nonce = os.urandom(12)
    sealed = nonce + ChaCha20Poly1305(key).encrypt(nonce, _TICKS.pack(mask), _ticks_aad(poll_id, step))
    return base64.urlsafe_b64encode(sealed).decode()


def open_ticks(key: bytes | None, poll_id: int, step: int, token: str) -> int | None:
    """The mask ``seal_ticks`` sealed for this poll and step; None for a token it did not make, or
    once the box is closed (``key`` None)."""
    if key is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        (mask,) = _TICKS.unpack(ChaCha20Poly1305(key).decrypt(raw[:12], raw[12:], _ticks_aad(poll_id, step)))
    except (InvalidTag, ValueError, struct.error):
        return None
    return int(mask)
