"""The record tools' words: why a change was refused, the names of reasons, standings and channels."""

from __future__ import annotations

import re
from datetime import date

from handlers.context import Context
from handlers.contract import Translator
from models.membership import ChangeProblem, InvalidChange
from models.tables import DeactivationReason, MemberStanding, Platform, Role


def problem_text(translator: Translator, error: InvalidChange) -> str:
    _ = translator.gettext
    return {
        ChangeProblem.EMPTY_NAME: _("The name cannot be empty."),
        ChangeProblem.TOO_LONG: _("That is too long."),
        ChangeProblem.NOT_A_NAME: _("\u201c{value}\u201d is not a name."),
        ChangeProblem.BAD_PHONE: _("\u201c{value}\u201d is not a phone number. Type it like 0912 345 678."),
        ChangeProblem.BAD_DATE: _("\u201c{value}\u201d is not a date. Type it like 25/11/2026."),
        ChangeProblem.DATE_IN_FUTURE: _("{value} is in the future."),
        ChangeProblem.NO_SUCH_DAY: _(
            "\u201c{value}\u201d is not a day of the calendar. Please check the day and month."
        ),
        ChangeProblem.DATE_NO_YEAR: _("\u201c{value}\u201d has no year. Type the year in full, like 05/03/1960."),
        ChangeProblem.OFFICIAL_BEFORE_ADMITTED: _("{value} is before the date they joined the Party."),
        ChangeProblem.ALREADY_OFFICIAL: _("This member is already an official member."),
        ChangeProblem.DUPLICATE_CARD: _("Another member already has the party card number {value}."),
        ChangeProblem.SAME_BRANCH: _("This member is already in that branch."),
        ChangeProblem.INACTIVE: _("{value} is no longer an active member; reactivate them first."),
        ChangeProblem.ALREADY_ACTIVE: _("This member is already active."),
        ChangeProblem.FORMULA: _(
            "\u201c{value}\u201d starts with a sign a spreadsheet would run as a formula. Please leave it out."
        ),
        # Quy định 29: probation is 12 months; the branch votes, at least 2/3 of official members.
        ChangeProblem.PROBATION_NOT_OVER: _(
            "Probation lasts 12 months from admission (Quy định 29): this member can be made official from "
            "{value}, not earlier."
        ),
        ChangeProblem.NO_ADMISSION_DATE: _(
            "The date {value} joined the Party is not on the record. Enter it first: probation is counted from it."
        ),
        ChangeProblem.BAD_VOTE: _(
            "Type the votes in favour and the number of official members of the branch, e.g. 8/10 "
            "(in favour at most the number of official members)."
        ),
        ChangeProblem.VOTE_SHORT: _(
            "{value}: fewer than two thirds of the branch's official members voted in favour, so the member is "
            "not made official (Quy định 29)."
        ),
        ChangeProblem.ROLE_SELF: _("Nobody can set their own office."),
        ChangeProblem.ROLE_ABOVE_OWN: _("Nobody can give or take away an office above their own."),
        ChangeProblem.RECORD_SELF: _(
            "Nobody can do this to their own record: another secretary of the branch or of the commune does it."
        ),
        ChangeProblem.RECORD_ABOVE_OWN: _(
            "Nobody can change the record of a comrade whose office is above their own ({value})."
        ),
        ChangeProblem.ROLE_PROBATIONARY: _(
            "{value} is a probationary member: probationary members do not hold office."
        ),
        ChangeProblem.ROLE_COMMUNE_ONLY: _("Only the secretary of the Party committee sets its offices."),
        ChangeProblem.PHONE_TAKEN: _("{value} is already recorded for another member."),
        # Quy định 29: the branch votes at its meeting; the vote is recorded with that meeting.
        ChangeProblem.NO_MEETING: _(
            "The branch votes on making a member official at its meeting, and no meeting of the branch has been "
            "held since probation ended on {value}. Call the meeting in chibo (Meetings), then record the vote."
        ),
        ChangeProblem.WRONG_MEETING: _(
            "That meeting cannot have held the branch's vote on {value}: choose a meeting of the member's branch "
            "that has taken place since probation ended."
        ),
    }[error.problem].format(value=_day_or_text(translator, error.value))


def _day_or_text(translator: Translator, value: str) -> str:
    """A date in a refusal, as members write it."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    return value


def reason_name(ctx: Context, reason: DeactivationReason) -> str:
    _ = ctx.gettext
    # The register's reasons for leaving the roster (DESIGN.md §4; xóa tên and xin ra khỏi Đảng:
    # Charter art. 8).
    return {
        DeactivationReason.TRANSFERRED: _("transferred to another Party organisation"),
        DeactivationReason.REMOVED: _("name removed"),
        DeactivationReason.EXPELLED: _("expelled"),
        DeactivationReason.RESIGNED: _("left the Party at their own request"),
        DeactivationReason.DIED: _("died"),
    }[reason]


def local_phone(phone: str | None) -> str:
    return "0" + phone[3:] if phone and phone.startswith("+84") else phone or "—"


def standing_name(ctx: Context, standing: MemberStanding) -> str:
    _ = ctx.gettext
    return {
        MemberStanding.ACTIVE: _("active in the branch"),
        MemberStanding.SUSPENDED: _("suspended from activity"),
        MemberStanding.ELSEWHERE: _("temporarily active elsewhere"),
    }[standing]


def channel_names(ctx: Context) -> dict[Platform, str]:
    return {
        Platform.TELEGRAM: "Telegram",
        Platform.WEB: ctx.gettext("web chat"),
        Platform.ZALO_BOT: "Zalo",
        Platform.ZALO_OA: "Zalo OA",
    }


def committee_office_name(ctx: Context, role: Role) -> str:
    """An office in the commune committee (đảng ủy), by its own name: not a branch's (chi ủy viên)."""
    _ = ctx.gettext
    return {
        Role.SECRETARY: _("Secretary of the Party committee"),
        Role.DEPUTY_SECRETARY: _("Deputy secretary of the Party committee"),
        Role.COMMITTEE_MEMBER: _("Party committee member"),
    }.get(role, _("Party committee member"))
