"""The audit log in full sentences (issue 14): one per ``AuditAction``, a gettext msgid translated
where the log is shown.

A sentence names ``{actor}`` (who did it; not in the three things no known member does) and
``{subject}`` (the member, meeting, notice, poll or branch it was done to, as the reader knows it:
a name, a title), plus the ``fields`` listed with it, which the reader fills from the event's
``before`` / ``after``:

- ``changes``: the changed fields, "field: before → after; …" (``before`` / ``after`` keys);
- as stored (``stored_fields`` picks them out): ``platform``, ``count`` (after.invites), ``who``,
  ``recipients``, ``messages``, ``eligible``, ``ballots``, ``present``, ``excused``, ``absent``,
  ``quorum``, ``name``, ``months``, ``amount``, ``paid_on`` (after.*);
- in words: ``language`` (after.locale), ``reason`` (after.deactivation_reason), ``attendance``
  (after.attendance), ``member`` (the name of the member after.member_id);
- dates, in the reader's time zone: ``at``, ``starts_at`` (after.*), ``previous`` (before.starts_at),
  ``day`` (the day of the meeting after.meeting).

``unattended`` is said instead when nobody did it (``actor_member_id`` is None: the scheduler, the
command line, someone chibo does not know); it has no ``{actor}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from models.audit import AuditAction


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Sentence:
    text: str
    fields: tuple[str, ...] = ()
    unattended: str | None = None


SENTENCES = MappingProxyType(
    {
        AuditAction.MEMBER_LINKED: Sentence(N_("{actor} joined chibo on {platform}"), ("platform",)),
        AuditAction.MEMBER_LANGUAGE: Sentence(N_("{actor} changed their language to {language}"), ("language",)),
        AuditAction.MEMBER_PHONE: Sentence(N_("{actor} corrected their phone number ({changes})"), ("changes",)),
        AuditAction.MEMBER_ADDED: Sentence(N_("{actor} added {subject} to the roster")),
        AuditAction.MEMBER_IMPORTED: Sentence(
            N_("{actor} added {subject} to the roster from the register"),
            unattended=N_("The register import added {subject} to the roster"),
        ),
        AuditAction.MEMBER_UPDATED: Sentence(
            N_("{actor} updated the record of {subject} from the register ({changes})"),
            ("changes",),
            N_("The register import updated the record of {subject} ({changes})"),
        ),
        AuditAction.MEMBER_EDITED: Sentence(N_("{actor} edited the record of {subject} ({changes})"), ("changes",)),
        AuditAction.MEMBER_MOVED: Sentence(N_("{actor} moved {subject} to another branch ({changes})"), ("changes",)),
        AuditAction.MEMBER_PROMOTED: Sentence(
            N_("{actor} made {subject} an official member ({changes})"),
            ("changes",),
            N_("{subject} was made an official member ({changes})"),
        ),
        AuditAction.MEMBER_EXEMPT: Sentence(
            N_("{actor} changed the exemption from Party activities of {subject} ({changes})"), ("changes",)
        ),
        AuditAction.MEMBER_DEACTIVATED: Sentence(N_("{actor} took {subject} off the roster ({reason})"), ("reason",)),
        AuditAction.MEMBER_REACTIVATED: Sentence(N_("{actor} put {subject} back on the roster")),
        AuditAction.MEMBER_COMMITTEE_ROLE: Sentence(
            N_("{actor} set the Party committee office of {subject} ({changes})"), ("changes",)
        ),
        AuditAction.MEMBER_STANDING: Sentence(
            N_("{actor} changed the standing of {subject} ({changes})"), ("changes",)
        ),
        AuditAction.INVITE_ISSUED: Sentence(N_("{actor} issued an invite code for {subject}")),
        AuditAction.INVITE_REVOKED: Sentence(
            N_("{actor} stopped the unused invite codes of {subject} ({count})"), ("count",)
        ),
        # Nobody known does these: the sentence names no actor.
        AuditAction.INVITE_REFUSED: Sentence(
            N_("Someone typed an invite code of {subject} that was used, revoked or expired, and was refused")
        ),
        AuditAction.INVITE_LOCKOUT: Sentence(N_("chibo locked out a web chat that typed too many wrong invite codes")),
        AuditAction.REFUSED: Sentence(N_("{actor} tried something only a secretary may do, and was refused")),
        AuditAction.STRANGER_REFUSED: Sentence(
            N_("Someone chibo does not know ({who}) pressed a secretary's button, and was refused"), ("who",)
        ),
        AuditAction.NOTICE_SENT: Sentence(
            N_("{actor} sent the notice “{subject}” to {recipients} members"), ("recipients",)
        ),
        AuditAction.NOTICE_SCHEDULED: Sentence(N_("{actor} scheduled the notice “{subject}” for {at}"), ("at",)),
        AuditAction.NOTICE_CANCELLED: Sentence(N_("{actor} cancelled the notice “{subject}”")),
        AuditAction.NOTICE_FILE_CONFIRMED: Sentence(
            N_("{actor} confirmed that the scan sent with the notice “{subject}” carries no classification mark")
        ),
        AuditAction.NOTICE_NUDGED: Sentence(
            N_("{actor} sent the notice “{subject}” again to those who had not read it ({messages} messages)"),
            ("messages",),
        ),
        AuditAction.POLL_OPENED: Sentence(
            N_("{actor} opened the vote “{subject}” to {eligible} members"), ("eligible",)
        ),
        AuditAction.POLL_PAPER_VOTE: Sentence(
            N_("{actor} recorded that {member} voted on paper in “{subject}”"), ("member",)
        ),
        AuditAction.POLL_PAPER_BOX: Sentence(
            N_("{actor} counted {ballots} paper ballots from the box of “{subject}”"), ("ballots",)
        ),
        AuditAction.POLL_CLOSED: Sentence(
            N_("{actor} closed the vote “{subject}”"), unattended=N_("The vote “{subject}” closed at its deadline")
        ),
        AuditAction.MEETING_CALLED: Sentence(
            N_("{actor} called the meeting “{subject}” for {starts_at}"),
            ("starts_at",),
            N_("chibo called the next meeting of the series “{subject}”, for {starts_at}"),
        ),
        AuditAction.MEETING_MOVED: Sentence(
            N_("{actor} moved the meeting “{subject}” from {previous} to {starts_at}"), ("previous", "starts_at")
        ),
        AuditAction.MEETING_CANCELLED: Sentence(N_("{actor} cancelled the meeting “{subject}”")),
        AuditAction.MEETING_ATTENDANCE: Sentence(
            N_("{actor} marked {subject} {attendance} at the meeting of {day}"), ("attendance", "day")
        ),
        AuditAction.MEETING_ATTENDANCE_CONFIRMED: Sentence(
            N_(
                "{actor} confirmed the attendance list of the meeting “{subject}”: {present} present, "
                "{excused} excused, {absent} absent without reason"
            ),
            ("present", "excused", "absent"),
        ),
        AuditAction.MEETING_MINUTES: Sentence(N_("{actor} wrote the minutes of the meeting “{subject}”")),
        AuditAction.MEETING_DOCUMENT: Sentence(
            N_("{actor} shared the document “{name}” with the meeting “{subject}”"), ("name",)
        ),
        AuditAction.BRANCH_MEETING_QUORUM: Sentence(
            N_("{actor} set the validity of the meetings of {subject} to at least {quorum} of those who must attend"),
            ("quorum",),
        ),
        AuditAction.RESOLUTION_RECORDED: Sentence(
            N_("{actor} recorded the resolution {label} of the meeting “{subject}”"), ("label",)
        ),
        AuditAction.HAND_VOTE_RECORDED: Sentence(
            N_("{actor} recorded a show of hands at the meeting “{subject}”: “{question}”, {votes} in favour"),
            ("question", "votes"),
        ),
        AuditAction.MEMBER_TRANSFERRED_OUT: Sentence(
            N_("{actor} recorded the transfer of {subject} to {organisation} on {on}; they left the roster"),
            ("organisation", "on"),
        ),
        AuditAction.MEMBER_TRANSFERRED_TEMPORARY: Sentence(
            N_("{actor} recorded that {subject} is temporarily active in {organisation} from {on} until {until}"),
            ("organisation", "on", "until"),
        ),
        AuditAction.MEMBER_TRANSFER_ENDED: Sentence(
            N_("{actor} recorded that {subject} came back from {organisation} on {on}"), ("organisation", "on")
        ),
        AuditAction.MEMBER_TRANSFERRED_IN: Sentence(
            N_("{actor} added {subject} to the roster, transferred from {organisation} on {on}"),
            ("organisation", "on"),
        ),
        AuditAction.MEMBER_RESIDENCE_CONTACT: Sentence(
            N_("{actor} noted that {subject} keeps in touch with {organisation} where they live, from {on}"),
            ("organisation", "on"),
        ),
        AuditAction.CANDIDATE_ADDED: Sentence(
            N_("{actor} added {name} to the admission candidates of {subject}, introduced by {introducer} on {on}"),
            ("name", "introducer", "on"),
        ),
        AuditAction.CANDIDATE_STEP: Sentence(
            N_("{actor} recorded “{step}” for the admission candidate {name} on {on}"), ("step", "name", "on")
        ),
        AuditAction.CANDIDATE_DROPPED: Sentence(
            N_("{actor} stopped following the admission candidate {name} on {on}"), ("name", "on")
        ),
        AuditAction.REVIEW_SELF: Sentence(N_("{actor} wrote their self-assessment for {year}"), ("year",)),
        AuditAction.REVIEW_CLASSIFIED: Sentence(
            N_("{actor} classified {subject} for {year}: {level} (at the meeting of {day})"), ("year", "level", "day")
        ),
        AuditAction.DESK_SIGNED_IN: Sentence(N_("{actor} signed in to the secretary's desk on a computer")),
        AuditAction.DESK_SIGNED_OUT: Sentence(N_("{actor} signed out of the secretary's desk")),
        AuditAction.DESK_SIGNED_OUT_EVERYWHERE: Sentence(
            N_("{actor} signed out of the secretary's desk on every computer ({sessions} open)"), ("sessions",)
        ),
        AuditAction.MEMBER_DUES_CATEGORY: Sentence(
            N_("{actor} set the party dues of {subject} ({changes})"), ("changes",)
        ),
        AuditAction.DUES_PAID: Sentence(
            N_("{actor} recorded the party dues of {subject} for {months}: {amount} VND paid on {paid_on}"),
            ("months", "amount", "paid_on"),
        ),
    }
)


# The fields a reader shows as stored, and where the event keeps them; the others need words
# (``reason``, ``attendance``), names (``member``) or a date in the reader's time zone.
_STORED = MappingProxyType(
    {
        "platform": ("after", "platform"),
        "count": ("after", "invites"),
        "who": ("after", "who"),
        "recipients": ("after", "recipients"),
        "messages": ("after", "messages"),
        "eligible": ("after", "eligible"),
        "ballots": ("after", "ballots"),
        "present": ("after", "present"),
        "excused": ("after", "excused"),
        "absent": ("after", "absent"),
        "quorum": ("after", "quorum"),
        "name": ("after", "name"),
        "label": ("after", "label"),
        "question": ("after", "question"),
        "votes": ("after", "votes"),
        "organisation": ("after", "organisation"),
        "introducer": ("after", "introducer"),
        "year": ("after", "year"),
        "sessions": ("after", "sessions"),
        "months": ("after", "months"),
        "amount": ("after", "amount"),
        "paid_on": ("after", "paid_on"),
    }
)


def stored_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields of a sentence that are shown as the event stored them (numbers, a file's name)."""
    sides = {"before": before or {}, "after": after or {}}
    return {name: sides[side][key] for name, (side, key) in _STORED.items() if key in sides[side]}


def sentence(action: str, *, attended: bool = True) -> str | None:
    """The msgid for a stored action (``attended``: a member did it), None for an action no
    sentence knows (a row older than the enum): the reader then shows the action as stored."""
    try:
        known = SENTENCES[AuditAction(action)]
    except ValueError:
        return None
    return known.text if attended or known.unattended is None else known.unattended
