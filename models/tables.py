"""The tables of chibo. Names follow the glossary in DESIGN.md §5."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(timezone: tzinfo) -> date:
    """Today where the commune is (CHIBO_TIMEZONE): the server's own date is UTC's, a day behind
    Vietnam's every morning until 07:00."""
    return utcnow().astimezone(timezone).date()


# Every id column is INTEGER: 32 bits on PostgreSQL. A number from outside (a button, a typed
# payload, a URL) beyond that range names nothing, and must be refused before any query sees it.
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    """Whether ``value`` can be the id of a row (1 … 2³¹−1)."""
    return 0 < value <= MAX_ID


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no zone, so UTC is re-attached on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; chibo stores only aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_column(*, nullable: bool, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _enum_column(enum: type[StrEnum], *, nullable: bool = False) -> Any:
    # Stored as the value string in a VARCHAR, readable in SQL and portable across databases. No CHECK
    # constraint (SQLAlchemy 2 makes none by default), so a new member needs no migration.
    return Column(
        SAEnum(enum, values_callable=lambda e: [m.value for m in e], native_enum=False, length=32),
        nullable=nullable,
    )


class Role(StrEnum):
    SECRETARY = "secretary"
    DEPUTY_SECRETARY = "deputy_secretary"
    COMMITTEE_MEMBER = "committee_member"
    MEMBER = "member"


class MemberStatus(StrEnum):
    OFFICIAL = "official"
    PROBATIONARY = "probationary"


class MemberStanding(StrEnum):
    """Whether the member takes part in the branch's activity now. A suspended member (đình chỉ sinh
    hoạt) and a member temporarily active in another organisation (sinh hoạt tạm thời nơi khác) do
    not vote here and are left out of the base of a vote (Điều lệ Đảng; Quy định 294-QĐ/TW)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    ELSEWHERE = "elsewhere"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class DeactivationReason(StrEnum):
    """Why a member left the roster, as the party register records it (DESIGN.md §4)."""

    TRANSFERRED = "transferred"  # chuyển sinh hoạt đảng
    REMOVED = "removed"  # xóa tên
    EXPELLED = "expelled"  # khai trừ
    RESIGNED = "resigned"  # xin ra khỏi Đảng
    DIED = "died"  # từ trần


class DuesCategory(StrEnum):
    """What a member's party dues are reckoned from (Quy định 01-QĐ/TW; models/dues.py)."""

    SALARY = "salary"  # 1% of salary and allowances subject to social insurance, or of a monthly allowance
    PENSION = "pension"  # 0.5% of a pension or monthly social-insurance allowance
    OTHER = "other"  # a fixed amount: farmers, free workers and others in working age
    ELDERLY = "elderly"  # a fixed amount, half of "other": past working age without salary or pension
    STUDENT = "student"  # a fixed amount: pupils and students without salary
    EXEMPT = "exempt"  # exempted from dues (not from activity) by the commune committee, for hardship


class Platform(StrEnum):
    TELEGRAM = "telegram"
    WEB = "web"
    ZALO_BOT = "zalo_bot"
    ZALO_OA = "zalo_oa"
    # Not a chat: the Web Push copies of a web chat's messages (bot/channels/web_push.py) are
    # outbox rows of their own, so the push service's rate limits and retries are its own.
    WEB_PUSH = "web_push"


class Committee(SQLModel, table=True):
    """A commune party committee (đảng ủy xã): the root of the organisation tree."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)


class Branch(SQLModel, table=True):
    """A party branch (chi bộ) under the committee."""

    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    # A meeting is valid when AT LEAST this fraction of those who must attend are present (DESIGN.md
    # §4: the one sourced figure is "at least 2/3"), a default each branch may change.
    meeting_quorum_numerator: int = 2
    meeting_quorum_denominator: int = 3


class Member(SQLModel, table=True):
    """A party member's roster entry. The card number can change, so it is never the key."""

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    full_name: str = Field(max_length=200)
    birth_date: date | None = None
    gender: Gender | None = Field(default=None, sa_column=_enum_column(Gender, nullable=True))
    phone: str | None = Field(default=None, max_length=20, index=True)
    citizen_id: str | None = Field(default=None, max_length=20)
    card_number: str | None = Field(default=None, max_length=20, index=True)
    role: Role = Field(default=Role.MEMBER, sa_column=_enum_column(Role))
    # Role in the commune committee (đảng ủy), if any: committee secretaries act on the whole commune.
    committee_role: Role | None = Field(default=None, sa_column=_enum_column(Role, nullable=True))
    status: MemberStatus = Field(default=MemberStatus.OFFICIAL, sa_column=_enum_column(MemberStatus))
    date_admitted: date | None = None
    date_official: date | None = None
    exempt: bool = False
    standing: MemberStanding = Field(default=MemberStanding.ACTIVE, sa_column=_enum_column(MemberStanding))
    # Never deleted: a member who leaves is deactivated and kept for the history of votes and meetings.
    active: bool = True
    deactivated_on: date | None = None
    deactivation_reason: DeactivationReason | None = Field(
        default=None, sa_column=_enum_column(DeactivationReason, nullable=True)
    )
    locale: str | None = Field(default=None, max_length=8)
    notes: str | None = Field(default=None, max_length=2000)
    # Party dues (models/dues.py): the category, and the salary or pension (VND a month) it is a share of.
    dues_category: DuesCategory | None = Field(default=None, sa_column=_enum_column(DuesCategory, nullable=True))
    dues_base: int | None = None


class DuesPayment(SQLModel, table=True):
    """One month of a member's party dues paid in cash to the branch's collector, as recorded: one
    row per month (several months paid at once are several rows of one ``recorded_at``). The branch
    is the one collecting, kept so a member's move does not move the branch's book."""

    __table_args__ = (UniqueConstraint("member_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    month: date  # the first day of the month paid for
    amount: int  # VND
    paid_on: date = Field(index=True)  # the day the cash was handed over
    recorded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class WebChatMessage(SQLModel, table=True):
    """A message chibo showed in one web chat (``chat_id``: the session's token hash): an answer
    or one the delivery worker stored for it. The page fetches those after the last it has, so a
    reload or a reconnect misses nothing and gets the last message's buttons back."""

    __table_args__ = (Index("ix_webchatmessage_chat", "chat_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: str = Field(max_length=128)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # a Reply, as Reply.to_dict
    pushed: bool = False  # sent by chibo on its own (a notice, a ballot, a reminder), not an answer
    answers: str | None = Field(default=None, max_length=64)  # the page's message id it answers
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False, index=True))


class ChannelIdentity(SQLModel, table=True):
    """Who a member is on one platform: the link made by an invite or a shared phone number."""

    # A chat is found by its id too (its language, as a batch is claimed; marked unreachable).
    __table_args__ = (
        UniqueConstraint("platform", "platform_user_id"),
        Index("ix_channelidentity_chat", "platform", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_column=_enum_column(Platform))
    platform_user_id: str = Field(max_length=128)
    chat_id: str = Field(max_length=128)
    member_id: int = Field(foreign_key="member.id", index=True)
    display_name: str | None = Field(default=None, max_length=200)
    linked_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    # Set when the platform says the member blocked the bot; cleared when they write again.
    unreachable_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # What the next typed message answers (a payload, e.g. "ask:phone"), and since when: set
    # when chibo asks a question, cleared by the answer, by any button, or when it grows stale.
    awaiting: str | None = Field(default=None, max_length=64)
    awaiting_since: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # The buttons chibo last answered with ([{label, payload}]), and when: a typed "gửi đi" or "có"
    # is read against them (handlers/intents/choices.py).
    choices: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    choices_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class Invite(SQLModel, table=True):
    """A one-time invite code. Only its hash is stored: the code itself exists on paper."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    used_by_identity_id: int | None = Field(default=None, foreign_key="channelidentity.id")
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class WebChatSession(SQLModel, table=True):
    """A web chat browser's session: the server issued its token and keeps only the token's hash.

    A token not found here is refused, so a browser cannot make one up (or plant one in another's).
    ``joined`` marks a token issued on a successful join, in place of the one that joined. A session
    a code moved here (a join, a switch) keeps the hash of the token it moved from and the page's
    id of that message, so that a page whose answer was lost gets it again (``web.recover_move``).
    """

    token_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False, index=True))
    joined: bool = False
    moved_from: str | None = Field(default=None, max_length=64, index=True)
    moved_for: str | None = Field(default=None, max_length=64)  # the message that moved it
    moved_switch: bool = False  # the move was another member's code on a joined browser


class WebPushSubscription(SQLModel, table=True):
    """Where a browser that joined the web chat gets Web Push notifications: its PushSubscription
    (RFC 8030 endpoint, RFC 8291 keys). One per web chat identity (one browser); a new one replaces it."""

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channelidentity.id", unique=True)
    endpoint: str = Field(max_length=2048)
    p256dh: str = Field(max_length=128)  # the browser's P-256 public key, base64url
    auth: str = Field(max_length=64)  # the 16-byte authentication secret, base64url
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class VapidKey(SQLModel, table=True):
    """The server's VAPID key pair (RFC 8292), made on first start unless CHIBO_VAPID_PRIVATE_KEY is
    set: one row, so every process signs with the key the browsers subscribed to."""

    id: int = Field(default=1, primary_key=True)
    private_key: str = Field(sa_column=Column(Text, nullable=False))  # PEM
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class InviteAttempt(SQLModel, table=True):
    """A wrong invite code typed in the web chat, once for the session and once for the client
    address that typed it (``scope``), so guessing locks out for a while across every process."""

    __table_args__ = (Index("ix_inviteattempt_scope_at", "scope", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class UploadCount(SQLModel, table=True):
    """How many files a member sent chibo to read on one day (the commune's day): capped by
    ``CHIBO_UPLOADS_PER_DAY`` (models.uploads)."""

    __table_args__ = (UniqueConstraint("member_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    day: date
    count: int = 0


class ProcessedUpdate(SQLModel, table=True):
    """One row per inbound update handled, so a re-delivered update is handled once.

    ``result`` keeps what was answered, for channels that answer in the response (the web chat).
    """

    __table_args__ = (UniqueConstraint("platform", "update_key"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_column=_enum_column(Platform))
    update_key: str = Field(max_length=128)
    processed_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    result: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AuditEvent(SQLModel, table=True):
    """Who did what, when, with the state before and after."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False, index=True))
    actor_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    action: str = Field(max_length=64)
    subject_type: str = Field(max_length=32)
    subject_id: int | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class NoticeStatus(StrEnum):
    DRAFT = "draft"  # being composed: the secretary sees a preview
    SCHEDULED = "scheduled"
    SENT = "sent"  # handed to the outbox: one row per recipient per channel
    CANCELLED = "cancelled"


class Notice(SQLModel, table=True):
    """An announcement (thông báo) from a secretary to an audience."""

    id: int | None = Field(default=None, primary_key=True)
    author_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    text: str = Field(max_length=10_000)
    # {"branches": [ids] | null for the whole commune, "filter": "all" | "officials" | "committee",
    #  "members": [ids] | null}: resolved to recipients when sent, so late changes to the roster count.
    audience: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: NoticeStatus = Field(default=NoticeStatus.DRAFT, sa_column=_enum_column(NoticeStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    scheduled_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True, index=True))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_nudged_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class NoticeFile(SQLModel, table=True):
    """The one document or photo a notice may carry, kept in the database with the notice."""

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", unique=True)
    filename: str = Field(max_length=200)
    is_photo: bool = False
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NoticeRecipient(SQLModel, table=True):
    """One member a notice was sent to, and when they tapped "I have read it"."""

    __table_args__ = (UniqueConstraint("notice_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    read_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # What the platform itself reported (the Zalo OA's delivery and seen events); the member's own
    # "I have read it" tap, read_at, stays the stronger signal.
    delivered_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    seen_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class PollStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class PollVoters(StrEnum):
    OFFICIALS = "officials"  # the Charter's default: only official members vote
    ALL = "all"  # a consultation open to probationary members too
    COMMITTEE = "committee"


class PollRule(StrEnum):
    MAJORITY_OF_ELIGIBLE = "majority_of_eligible"  # quá nửa: more than half of everyone eligible
    TWO_THIRDS_OF_ELIGIBLE = "two_thirds_of_eligible"
    MOST_VOTES = "most_votes"
    CUSTOM = "custom"  # more than numerator/denominator of the chosen base


class PollKind(StrEnum):
    """Four kinds of question, never confused (DESIGN.md §4)."""

    MOTION = "motion"  # Tán thành / Không tán thành / Ý kiến khác: adopted only when "Tán thành" reaches the rule
    CHOICE = "choice"  # one option among several: a winner only when one reaches the rule
    ELECTION = "election"  # up to k of n candidates, blank ballots allowed: each elected on its own votes
    CONSULTATION = "consultation"  # lấy ý kiến: counts only, never "adopted"; plurality lives only here


class PollBase(StrEnum):
    ELIGIBLE = "eligible"
    VOTED = "voted"


class Poll(SQLModel, table=True):
    """A vote (biểu quyết): a question, its options and the rules that decide it."""

    id: int | None = Field(default=None, primary_key=True)
    author_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    question: str = Field(max_length=1000)
    kind: PollKind = Field(default=PollKind.MOTION, sa_column=_enum_column(PollKind))
    options: list[str] = Field(sa_column=Column(JSON, nullable=False))  # 2-10 labels, by position
    max_choices: int = 1  # an election: the seats, the most candidates one ballot may name
    secret: bool = False
    voters: PollVoters = Field(default=PollVoters.OFFICIALS, sa_column=_enum_column(PollVoters))
    branches: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # None: commune
    rule: PollRule = Field(default=PollRule.MAJORITY_OF_ELIGIBLE, sa_column=_enum_column(PollRule))
    rule_numerator: int = 1
    rule_denominator: int = 2
    rule_base: PollBase = Field(default=PollBase.ELIGIBLE, sa_column=_enum_column(PollBase))
    show_running: bool = False
    allow_change: bool = True  # open votes only: a secret ballot is final
    announce_results: bool = True
    status: PollStatus = Field(default=PollStatus.DRAFT, sa_column=_enum_column(PollStatus))
    deadline: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    opened_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_nudged_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # A vote taken at a meeting: members absent from it with an accepted reason leave the base.
    # None: a vote in chat between meetings, which gathers opinions (DESIGN.md §4).
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    # Fixed when the poll opens: members of the body left out of the roll and of the base because
    # they are suspended or temporarily active elsewhere.
    suspended_count: int = 0
    elsewhere_count: int = 0


class PollEligible(SQLModel, table=True):
    """Who may vote, fixed when the poll opens: the base of "more than half of the eligible"."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    exempt: bool = False  # exempt members count in the base only if they vote


class PollVoter(SQLModel, table=True):
    """The voter roll: who has voted. Its primary key is what makes a second ballot impossible."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    entered_by_member_id: int | None = Field(default=None, foreign_key="member.id")  # a paper vote


class PollTally(SQLModel, table=True):
    """The result of a secret poll: a count per option, written once, in the transaction that closes
    the poll (never a count per vote: its old versions would tell each voter's choice)."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    option: int = Field(primary_key=True)
    votes: int = 0


class BallotBox(SQLModel, table=True):
    """A secret poll's box while it is open: the salt that, with the server's own secret (never in
    the database), gives the poll's private key, and the public key ballots are sealed to. Both are
    erased when the poll closes, so no copy of the database taken later can open a ballot."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    salt: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    public_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    paper_counted: int = 0  # paper ballots entered as counts from the paper box (a total, no choice)
    # When the closed box's erased rows were vacuumed away (PostgreSQL) or checkpointed (SQLite).
    purged_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class SealedBallot(SQLModel, table=True):
    """One ballot of an open secret poll, sealed to the box's public key: no member, no time, no
    number; readable only with the server's secret, and deleted when the poll closes."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))


class OpenBallot(SQLModel, table=True):
    """A choice in an open vote, with the voter's name: shown to the secretary."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    option: int = Field(primary_key=True)


class PollOpinion(SQLModel, table=True):
    """The opinion an open consultation's voter typed after choosing "Ý kiến khác", with the name,
    as the vote itself (a secret ballot takes none: README "Polls")."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    text: str = Field(max_length=1000)
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class MeetingKind(StrEnum):
    REGULAR = "regular"  # sinh hoạt chi bộ định kỳ, monthly
    THEMATIC = "thematic"  # sinh hoạt chuyên đề, at least quarterly
    COMMITTEE = "committee"
    OTHER = "other"


class MeetingStatus(StrEnum):
    DRAFT = "draft"  # being set up: the secretary sees a preview
    CALLED = "called"  # invitations sent
    CANCELLED = "cancelled"


class Rsvp(StrEnum):
    ATTENDING = "attending"
    EXCUSED = "excused"  # vắng có lý do, with the reason


class Attendance(StrEnum):
    PRESENT = "present"
    EXCUSED = "excused"  # a reason the secretary accepted
    ABSENT = "absent"  # without a reason: only ever what the secretary recorded
    UNRECORDED = "unrecorded"  # chưa ghi nhận: nobody marked them and they did not check in (never stored)


class Meeting(SQLModel, table=True):
    """A meeting of a branch (or of the commune committee: ``branch_id`` None)."""

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int | None = Field(default=None, foreign_key="branch.id", index=True)
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    kind: MeetingKind = Field(default=MeetingKind.REGULAR, sa_column=_enum_column(MeetingKind))
    title: str = Field(max_length=300)
    starts_at: datetime = Field(sa_column=_utc_column(nullable=False, index=True))
    # False while a draft's time is only a placeholder the secretary has not typed: nothing shows it,
    # and the meeting cannot be called until it is typed.
    time_set: bool = True
    place: str = Field(default="", max_length=300)
    link: str | None = Field(default=None, max_length=500)  # a map or a video call
    agenda: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audience: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # models.audience.Audience
    status: MeetingStatus = Field(default=MeetingStatus.DRAFT, sa_column=_enum_column(MeetingStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    called_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # Reminders go this many minutes before the start, to everyone invited who has not declined.
    reminder_minutes: list[int] = Field(default_factory=lambda: [1440, 120], sa_column=Column(JSON, nullable=False))
    # A monthly meeting repeats on this day of the month at the same time; all its meetings share
    # the first one's id as ``series_id``.
    repeat_day: int | None = None
    series_id: int | None = Field(default=None, index=True)
    # Valid when AT LEAST numerator/denominator of those who must attend are present (copied from
    # the branch's setting when the meeting is called, so a later change does not rewrite history).
    quorum_numerator: int = 2
    quorum_denominator: int = 3
    minutes_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    conclusions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # When members' own check-in closed (an hour after the start).
    attendance_closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # When the secretary confirmed the attendance list: only then is it final (DESIGN.md §4).
    attendance_confirmed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    attendance_confirmed_by_member_id: int | None = Field(default=None, foreign_key="member.id")


class MeetingFile(SQLModel, table=True):
    """A document the secretary marked shareable for a meeting, or its minutes: a file or a link."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    filename: str = Field(max_length=200)
    is_photo: bool = False
    is_minutes: bool = False
    content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    url: str | None = Field(default=None, max_length=500)


class MeetingInvitation(SQLModel, table=True):
    """Who was invited, what they answered, and whether they came."""

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    exempt: bool = False  # exempt members count towards validity only when present
    invited_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    # When the invitation was pushed to Telegram or Zalo; None while the member has no such channel
    # (it goes out when they join chibo, if the meeting is still ahead).
    notified_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    rsvp: Rsvp | None = Field(default=None, sa_column=_enum_column(Rsvp, nullable=True))
    reason: str | None = Field(default=None, max_length=300)
    rsvp_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    checked_in_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # What the secretary recorded, which wins over the member's own check-in or answer.
    attendance: Attendance | None = Field(default=None, sa_column=_enum_column(Attendance, nullable=True))
    marked_by_member_id: int | None = Field(default=None, foreign_key="member.id")


class MeetingJobKind(StrEnum):
    REMINDER = "reminder"
    START_SUMMARY = "start_summary"  # to the secretary at the start: who said they will come
    CLOSE_ATTENDANCE = "close_attendance"  # after the check-in window: members' own check-in closes
    NEXT_MEETING = "next_meeting"  # a repeating meeting calls its next one


class JobState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"  # with the reason in ``note``
    CANCELLED = "cancelled"  # the meeting was cancelled or moved


class MeetingJob(SQLModel, table=True):
    """One timed job: what, for whom, when, and what became of it. The scheduler claims due rows
    with a conditional update, so any number of processes may run it and each row runs once."""

    __table_args__ = (Index("ix_meetingjob_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    kind: MeetingJobKind = Field(sa_column=_enum_column(MeetingJobKind))
    minutes_before: int = 0  # a reminder's offset
    due_at: datetime = Field(sa_column=_utc_column(nullable=False))
    state: JobState = Field(default=JobState.PENDING, sa_column=_enum_column(JobState))
    done_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    note: str | None = Field(default=None, max_length=200)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the same transaction as the change that caused it."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "platform", "chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_column=_enum_column(Platform))
    chat_id: str = Field(max_length=128)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_column=_enum_column(OutboxStatus))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    # A claim is a lease: a worker that dies mid-send lets the row be claimed again after it ends.
    claimed_until: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    # Set for a notice's deliveries, so the secretary sees each recipient's state.
    notice_id: int | None = Field(default=None, foreign_key="notice.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    # The platform's id of the message as sent (the Zalo OA's msg_id), which its delivery and seen
    # events name; for a template message (ZNS), the template message's id.
    platform_message_id: str | None = Field(default=None, max_length=128, index=True)
    # Set when the message went as a paid template message (ZNS) because the chat window was closed.
    template_sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # The platform calls of this message already made (a file, then its text): a retry resumes after them.
    parts_sent: int = 0


class ChannelAlert(SQLModel, table=True):
    """When the commune's secretaries were last told that a channel stopped delivering: a
    compare-and-set on ``alerted_at`` lets one process, once a day, tell them."""

    platform: str = Field(primary_key=True, max_length=32)
    alerted_at: datetime = Field(sa_column=_utc_column(nullable=False))


class ZaloBotMenu(SQLModel, table=True):
    """The numbered choices open in a Zalo Bot chat, which has no buttons: the member answers "2"
    and the adapter reads back that payload. One row per chat, its open menus (each with its first
    number) in ``choices``. Used when Redis is not configured."""

    chat_id: str = Field(primary_key=True, max_length=128)
    choices: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    shown_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class ZaloOaToken(SQLModel, table=True):
    """The OAuth tokens of a Zalo Official Account, one row per app. Zalo rotates the refresh token
    on every refresh, so the newest one lives only here: losing it locks the commune out.

    ``version`` changes with every claim and every store, so a process refreshes only after winning
    a compare-and-set on it; ``refreshing_until`` is that claim's lease, for a process that dies
    mid-refresh."""

    app_id: str = Field(primary_key=True, max_length=64)
    access_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    refresh_token: str = Field(sa_column=Column(Text, nullable=False))
    # The refresh token the current one was obtained with: a fallback if the current one is refused.
    previous_refresh_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    refreshing_until: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    version: int = 0


class UnansweredWeek(SQLModel, table=True):
    """How many typed questions chibo could not answer, per branch and week (starting Monday):
    a count only, never the text, so the secretary sees what members miss without their words."""

    branch_id: int = Field(foreign_key="branch.id", primary_key=True)
    week: date = Field(primary_key=True)
    count: int = 0


# The branch's books (issue 18): the monthly resolution, votes by show of hands at a meeting,
# transfers, admission candidates, the year-end review, and the reminders they send once each.


class Resolution(SQLModel, table=True):
    """The resolution of a meeting (nghị quyết tháng), numbered per branch and year: "Nghị quyết số
    05-NQ/CB". One per meeting; its decisions one per line as the branch adopted them."""

    __table_args__ = (UniqueConstraint("branch_id", "year", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", unique=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    year: int
    number: int
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class HandVote(SQLModel, table=True):
    """A vote taken at a meeting by show of hands (biểu quyết giơ tay), counted by the secretary:
    in favour of the base, the base fixed from the meeting's confirmed list when recorded."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    question: str = Field(max_length=300)
    votes_for: int
    votes_against: int = 0
    base: int
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class PromotionVote(SQLModel, table=True):
    """The branch's vote making a probationary member official (Quy định 29: at least two thirds of
    its official members in favour), with the meeting that held it."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    decided_on: date
    votes_for: int
    officials: int
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class TransferKind(StrEnum):
    OUT = "out"  # chuyển sinh hoạt đảng chính thức: leaves the roster
    TEMPORARY = "temporary"  # chuyển sinh hoạt tạm thời: stays, active elsewhere until a day
    IN = "in"  # arrived by transfer from another party organisation
    RESIDENCE = "residence"  # working away, keeps in touch with the branch where they live


class MemberTransfer(SQLModel, table=True):
    """A member's move between party organisations, kept with their record for ever."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: TransferKind = Field(sa_column=_enum_column(TransferKind))
    organisation: str = Field(max_length=300)  # where to, where from, or the branch where they live
    day: date  # the day of the transfer (or from which they keep in touch)
    until: date | None = None  # a temporary transfer's end, as the letter says
    ended_on: date | None = None  # a temporary one that ended (the member back), or a contact that ended
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class AdmissionCandidate(SQLModel, table=True):
    """A person the branch prepares for admission (quần chúng ưu tú), with the day of each step."""

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    full_name: str = Field(max_length=200)
    birth_date: date | None = None
    introducer: str = Field(default="", max_length=200)  # người giới thiệu
    introduced_on: date
    class_on: date | None = None  # học lớp bồi dưỡng nhận thức về Đảng (cảm tình Đảng)
    dossier_on: date | None = None  # lý lịch verified
    branch_on: date | None = None  # the branch's resolution proposing admission
    committee_on: date | None = None  # the commune committee's approval
    decision_on: date | None = None  # the decision to admit
    ceremony_on: date | None = None  # the admission ceremony: probation starts
    member_id: int | None = Field(default=None, foreign_key="member.id")  # on the roster from the ceremony
    dropped_on: date | None = None  # no longer followed


class ReviewLevel(StrEnum):
    """The four levels of the year-end classification (Quy định 366-QĐ/TW, 2025; 124-QĐ/TW before)."""

    EXCELLENT = "excellent"  # Hoàn thành xuất sắc nhiệm vụ
    GOOD = "good"  # Hoàn thành tốt nhiệm vụ
    DONE = "done"  # Hoàn thành nhiệm vụ
    NOT_DONE = "not_done"  # Không hoàn thành nhiệm vụ


class YearReview(SQLModel, table=True):
    """A member's year-end review: their own assessment, and the branch's classification with the
    meeting that decided it."""

    __table_args__ = (UniqueConstraint("member_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    year: int
    self_assessment: str | None = Field(default=None, max_length=2000)
    self_level: ReviewLevel | None = Field(default=None, sa_column=_enum_column(ReviewLevel, nullable=True))
    level: ReviewLevel | None = Field(default=None, sa_column=_enum_column(ReviewLevel, nullable=True))
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    decided_by_member_id: int | None = Field(default=None, foreign_key="member.id")


class BookReminder(SQLModel, table=True):
    """A reminder the books sent the secretary (a probation ending in 30 or 7 days, a quarter with no
    thematic meeting): its key is written in the transaction that queues it, so it goes once, across
    restarts and replicas."""

    key: str = Field(primary_key=True, max_length=100)
    sent_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class DeskLink(SQLModel, table=True):
    """A one-time link that opens the secretary's desk on a computer, sent to the member in chat.
    Only the SHA-256 of its token is kept; it works once, within ``expires_at``."""

    token_hash: str = Field(primary_key=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=_utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class DeskSession(SQLModel, table=True):
    """A browser signed in to the desk (its cookie's token is kept only as a SHA-256), with the
    token its forms carry against cross-site requests. Ended by signing out, or idle too long."""

    token_hash: str = Field(primary_key=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    csrf: str = Field(max_length=64)
    user_agent: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
