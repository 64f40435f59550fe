"""Taking in the branch register (the secretaries' Excel or CSV) and reconciling it with the roster.

Pure rules first (headers, values, problems), then one import that matches existing members on the
party card number, else on full name and birth date, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.phones import normalize_phone
from models.tables import Branch, Gender, Member, MemberStatus, Role
from models.vietnamese import name_key, plain_name


def fold(text: str) -> str:
    """Lower case without diacritics and with single spaces: "Họ và  tên" -> "ho va ten"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.lower().split())


class Column(StrEnum):
    FULL_NAME = "full_name"
    BIRTH_DATE = "birth_date"
    GENDER = "gender"
    PHONE = "phone"
    BRANCH = "branch"
    ROLE = "role"
    STATUS = "status"
    DATE_ADMITTED = "date_admitted"
    DATE_OFFICIAL = "date_official"
    CARD_NUMBER = "card_number"
    EXEMPT = "exempt"
    NOTES = "notes"


# Headers as people write them, folded; Vietnamese first.
HEADERS: dict[str, Column] = {
    **dict.fromkeys(["ho va ten", "ho ten", "full name", "name"], Column.FULL_NAME),
    **dict.fromkeys(["ngay sinh", "ngay thang nam sinh", "birth date", "date of birth"], Column.BIRTH_DATE),
    **dict.fromkeys(["gioi tinh", "gender"], Column.GENDER),
    **dict.fromkeys(["so dien thoai", "dien thoai", "sdt", "phone", "phone number"], Column.PHONE),
    **dict.fromkeys(["chi bo", "branch"], Column.BRANCH),
    **dict.fromkeys(["chuc vu", "role"], Column.ROLE),
    **dict.fromkeys(["loai dang vien", "trang thai", "status"], Column.STATUS),
    **dict.fromkeys(["ngay vao dang", "date admitted"], Column.DATE_ADMITTED),
    **dict.fromkeys(["ngay chinh thuc", "date official", "date made official"], Column.DATE_OFFICIAL),
    **dict.fromkeys(["so the dang vien", "so the", "card number", "party card number"], Column.CARD_NUMBER),
    **dict.fromkeys(["mien sinh hoat", "mien cong tac", "exempt"], Column.EXEMPT),
    **dict.fromkeys(["ghi chu", "notes"], Column.NOTES),
}

_ROLES = {
    **dict.fromkeys(["bi thu", "secretary"], Role.SECRETARY),
    **dict.fromkeys(["pho bi thu", "deputy secretary"], Role.DEPUTY_SECRETARY),
    **dict.fromkeys(["chi uy vien", "committee member"], Role.COMMITTEE_MEMBER),
    **dict.fromkeys(["", "dang vien", "member"], Role.MEMBER),
}
_STATUSES = {
    **dict.fromkeys(["chinh thuc", "dang vien chinh thuc", "official"], MemberStatus.OFFICIAL),
    **dict.fromkeys(["du bi", "dang vien du bi", "probationary"], MemberStatus.PROBATIONARY),
}
_GENDERS = {**dict.fromkeys(["nam", "male", "m"], Gender.MALE), **dict.fromkeys(["nu", "female", "f"], Gender.FEMALE)}
_YES = {"x", "co", "yes", "y", "1", "true"}
_NO = {"", "khong", "no", "n", "0", "false"}
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")
_LIMITS = {Column.FULL_NAME: 200, Column.NOTES: 2000, Column.CARD_NUMBER: 20}


class Problem(StrEnum):
    MISSING_NAME = "missing_name"
    BAD_DATE = "bad_date"
    BAD_PHONE = "bad_phone"
    BAD_GENDER = "bad_gender"
    BAD_ROLE = "bad_role"
    BAD_STATUS = "bad_status"
    BAD_FLAG = "bad_flag"
    UNKNOWN_BRANCH = "unknown_branch"
    NO_BRANCH = "no_branch"
    FORMULA = "formula"
    TOO_LONG = "too_long"
    DUPLICATE_CARD = "duplicate_card"
    DUPLICATE_PERSON = "duplicate_person"
    OFFICIAL_BEFORE_ADMITTED = "official_before_admitted"
    OTHER_BRANCH = "other_branch"  # outside the branches the importer may change


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: Column | None
    problem: Problem
    value: str = ""


@dataclass
class MemberRow:
    line: int
    values: dict[str, Any]
    branch_id: int


class Outcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PlannedRow:
    """What the import does with one good row: the fields it changes, before and after."""

    line: int
    outcome: Outcome
    full_name: str
    branch_id: int
    member_id: int | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    written: bool = False
    rows: list[PlannedRow] = field(default_factory=list)  # every good row, in the file's order


class HeaderError(ValueError):
    """The first row names no "full name" column: this is not a register."""


def map_headers(header: Iterable[object]) -> dict[int, Column]:
    """Column index -> field, for every header we understand; the rest are ignored."""
    mapped = {i: HEADERS[fold(str(h))] for i, h in enumerate(header) if h is not None and fold(str(h)) in HEADERS}
    if Column.FULL_NAME not in mapped.values():
        raise HeaderError("no full name column")
    return mapped


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _cell_text(value)
    if not text:
        return None
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _is_formula(column: Column, text: str) -> bool:
    """A cell a spreadsheet would run as a formula (CSV injection) is never taken in."""
    if text[:1] in ("=", "@", "\t", "\r"):
        return True
    if text[:1] in ("+", "-") and column is not Column.PHONE:
        return not text[1:].replace(".", "", 1).isdigit()
    return False


def parse_row(
    line: int, cells: dict[Column, object], branch_for: Callable[[str], int | None], default_branch: int | None
) -> MemberRow | list[RowProblem]:
    """One register row as member fields, or every problem it has."""
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}

    def problem(column: Column | None, kind: Problem, value: object = "") -> None:
        problems.append(RowProblem(line, column, kind, _cell_text(value)[:60]))

    texts = {column: _cell_text(value) for column, value in cells.items()}
    for column, text in texts.items():
        if _is_formula(column, text):
            problem(column, Problem.FORMULA, text)
        if column in _LIMITS and len(text) > _LIMITS[column]:
            problem(column, Problem.TOO_LONG, text)
    if problems:
        return problems
    name = plain_name(texts.get(Column.FULL_NAME, ""))
    if not name:
        problem(Column.FULL_NAME, Problem.MISSING_NAME)
    elif _is_formula(Column.FULL_NAME, name):  # behind an invisible character dropped just now
        problem(Column.FULL_NAME, Problem.FORMULA, name)
    values["full_name"] = name
    for column in (Column.BIRTH_DATE, Column.DATE_ADMITTED, Column.DATE_OFFICIAL):
        try:
            values[column.value] = parse_date(cells.get(column))
        except ValueError:
            problem(column, Problem.BAD_DATE, cells.get(column))
    phone_text = texts.get(Column.PHONE, "")
    values["phone"] = normalize_phone(phone_text) if phone_text else None
    if phone_text and values["phone"] is None:
        problem(Column.PHONE, Problem.BAD_PHONE, phone_text)
    for column, table, kind in (
        (Column.GENDER, _GENDERS, Problem.BAD_GENDER),
        (Column.ROLE, _ROLES, Problem.BAD_ROLE),
    ):
        folded = fold(texts.get(column, ""))
        if column is Column.GENDER and not folded:
            values["gender"] = None
        elif folded in table:
            values[column.value] = table[folded]
        else:
            problem(column, kind, texts.get(column))
    status_text = fold(texts.get(Column.STATUS, ""))
    if status_text in _STATUSES:
        values["status"] = _STATUSES[status_text]
    elif not status_text:
        # Registers often leave it blank: a member with a date made official is official.
        values["status"] = MemberStatus.OFFICIAL if values.get("date_official") else MemberStatus.PROBATIONARY
    else:
        problem(Column.STATUS, Problem.BAD_STATUS, texts.get(Column.STATUS))
    exempt = fold(texts.get(Column.EXEMPT, ""))
    if exempt in _YES or exempt in _NO:
        values["exempt"] = exempt in _YES
    else:
        problem(Column.EXEMPT, Problem.BAD_FLAG, texts.get(Column.EXEMPT))
    values["card_number"] = texts.get(Column.CARD_NUMBER) or None
    values["notes"] = texts.get(Column.NOTES) or None
    admitted, official = values.get("date_admitted"), values.get("date_official")
    if admitted and official and official < admitted:
        problem(Column.DATE_OFFICIAL, Problem.OFFICIAL_BEFORE_ADMITTED, cells.get(Column.DATE_OFFICIAL))
    # A column absent from the file, or an empty cell, leaves the field as it is (for a member
    # already on the roster; a new member gets the defaults): a partial register never clears a
    # date or demotes anyone. Clearing takes the desk record or an explicit value.
    filled = {column.value for column, text in texts.items() if text}
    for key in list(values):
        if key not in filled and key != "full_name" and not (key == "status" and "date_official" in filled):
            del values[key]
    branch_text = texts.get(Column.BRANCH, "")
    branch_id = branch_for(branch_text) if branch_text else default_branch
    if branch_id is None:
        problem(Column.BRANCH, Problem.UNKNOWN_BRANCH if branch_text else Problem.NO_BRANCH, branch_text)
    if problems:
        return problems
    assert branch_id is not None
    return MemberRow(line, values, branch_id)


_COMPARED = (
    "full_name", "birth_date", "gender", "phone", "role", "status",
    "date_admitted", "date_official", "card_number", "exempt", "notes",
)  # fmt: skip


def _snapshot(member: Member) -> dict[str, Any]:
    return {key: _plain(getattr(member, key)) for key in (*_COMPARED, "branch_id")}


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


async def import_members(
    session: AsyncSession,
    rows: Iterable[tuple[int, dict[Column, object]]],
    *,
    default_branch_code: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    on_row: Callable[[], None] = lambda: None,
    allowed_branches: set[int] | None = None,
    actor_id: int | None = None,
) -> ImportReport:
    """Reconcile the register with the roster in the caller's transaction.

    With any problem and no ``skip_invalid``, nothing is written (the caller rolls back when
    ``report.written`` is False); ``dry_run`` checks everything and writes nothing. With
    ``allowed_branches``, a row for another branch, or matching a member of another branch, is
    a problem: a branch secretary's file cannot reach into someone else's branch.
    """
    branches = (await session.exec(select(Branch))).all()
    by_key = {fold(b.code): b.id for b in branches} | {fold(b.name): b.id for b in branches}
    default_branch = by_key.get(fold(default_branch_code)) if default_branch_code else None
    if default_branch_code and default_branch is None:
        raise LookupError(default_branch_code)
    members = (await session.exec(select(Member))).all()
    by_card = {m.card_number: m for m in members if m.card_number}
    by_person = {(fold(m.full_name), m.birth_date): m for m in members}
    report = ImportReport()
    parsed: list[MemberRow] = []
    seen_cards: dict[str, int] = {}
    seen_people: dict[tuple[str, date | None], int] = {}
    for line, cells in rows:
        on_row()
        row = parse_row(line, cells, lambda text: by_key.get(fold(text)), default_branch)
        if isinstance(row, list):
            report.problems.extend(row)
            continue
        card = row.values.get("card_number")
        person = (fold(row.values["full_name"]), row.values.get("birth_date"))
        if card and card in seen_cards:
            report.problems.append(RowProblem(line, Column.CARD_NUMBER, Problem.DUPLICATE_CARD, card))
            continue
        if not card and person in seen_people:
            report.problems.append(
                RowProblem(line, Column.FULL_NAME, Problem.DUPLICATE_PERSON, row.values["full_name"])
            )
            continue
        if card:
            seen_cards[card] = line
        seen_people[person] = line
        if allowed_branches is not None:
            existing = _match(row, by_card, by_person)
            if row.branch_id not in allowed_branches or (existing and existing.branch_id not in allowed_branches):
                report.problems.append(
                    RowProblem(line, Column.BRANCH, Problem.OTHER_BRANCH, str(cells.get(Column.BRANCH) or ""))
                )
                continue
        parsed.append(row)
    report.rows = [_plan(row, _match(row, by_card, by_person)) for row in parsed]
    for planned in report.rows:
        if planned.outcome is Outcome.NEW:
            report.created += 1
        elif planned.outcome is Outcome.UPDATED:
            report.updated += 1
        else:
            report.unchanged += 1
    if dry_run or (report.problems and not skip_invalid):
        return report
    created: list[Member] = []
    for row, planned in zip(parsed, report.rows, strict=True):
        existing = _match(row, by_card, by_person)
        if existing is None:
            # A new member without a status or a date made official is probationary.
            created.append(Member(branch_id=row.branch_id, **({"status": MemberStatus.PROBATIONARY} | row.values)))
            continue
        if planned.outcome is Outcome.UNCHANGED:
            continue
        for key, value in row.values.items():
            setattr(existing, key, value)
        existing.branch_id = row.branch_id
        session.add(existing)
        audit.record(
            session,
            AuditAction.MEMBER_UPDATED,
            actor_id=actor_id,
            subject_type="member",
            subject_id=existing.id,
            before=planned.before,
            after=planned.after,
        )
    # One flush for all new members (their ids are needed for the audit), not one per row.
    session.add_all(created)
    await session.flush()
    for m in created:
        audit.record(
            session, AuditAction.MEMBER_IMPORTED, actor_id=actor_id, subject_type="member", subject_id=m.id,
            after=_snapshot(m),
        )  # fmt: skip
    report.written = True
    return report


def _match(
    row: MemberRow, by_card: dict[str, Member], by_person: dict[tuple[str, date | None], Member]
) -> Member | None:
    card = row.values.get("card_number")
    if card and card in by_card:
        return by_card[card]
    return by_person.get((fold(row.values["full_name"]), row.values.get("birth_date")))


def _plan(row: MemberRow, existing: Member | None) -> PlannedRow:
    """What importing ``row`` does: a new member, or the fields of ``existing`` it changes. The
    preview shows it and the import does exactly it (one comparison for both)."""
    name = row.values["full_name"]
    if existing is None:
        return PlannedRow(row.line, Outcome.NEW, name, row.branch_id)
    before = _snapshot(existing)
    after = before | {key: _plain(value) for key, value in row.values.items()} | {"branch_id": row.branch_id}
    changed = [key for key in after if after[key] != before[key]]
    outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
    return PlannedRow(
        row.line, outcome, name, row.branch_id, existing.id,
        {key: before[key] for key in changed}, {key: after[key] for key in changed},
    )  # fmt: skip


# The export writes what the import reads back unchanged (a round trip is a no-op).
EXPORT_HEADER = [
    "Họ và tên", "Ngày sinh", "Giới tính", "Số điện thoại", "Chi bộ", "Chức vụ", "Loại đảng viên",
    "Ngày vào Đảng", "Ngày chính thức", "Số thẻ đảng viên", "Miễn sinh hoạt", "Ghi chú",
]  # fmt: skip
_ROLE_WORDS = {Role.SECRETARY: "Bí thư", Role.DEPUTY_SECRETARY: "Phó Bí thư",
               Role.COMMITTEE_MEMBER: "Chi ủy viên", Role.MEMBER: "Đảng viên"}  # fmt: skip
_STATUS_WORDS = {MemberStatus.OFFICIAL: "Chính thức", MemberStatus.PROBATIONARY: "Dự bị"}
_GENDER_WORDS = {Gender.MALE: "Nam", Gender.FEMALE: "Nữ"}


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _local_phone(phone: str | None) -> str:
    # 0912…, as people write it; "+84…" would turn into a number or a formula in a spreadsheet.
    if phone and phone.startswith("+84"):
        return "0" + phone[3:]
    return phone or ""


async def export_rows(
    session: AsyncSession, branch_code: str | None = None, *, member_ids: Collection[int] | None = None
) -> list[list[str]]:
    """The active roster (of one branch, or all; or only these members), in register order, as the
    export writes it."""
    query = select(Member, Branch).join(Branch, col(Branch.id) == Member.branch_id).where(col(Member.active).is_(True))
    if branch_code is not None:
        query = query.where(Branch.code == branch_code)
    if member_ids is not None:
        query = query.where(col(Member.id).in_(list(member_ids)))
    rows = []
    ordered = sorted((await session.exec(query)).all(), key=lambda row: (row[1].code, name_key(row[0].full_name)))
    for member, branch in ordered:
        rows.append([
            member.full_name, _day(member.birth_date), _GENDER_WORDS[member.gender] if member.gender else "",
            _local_phone(member.phone), branch.code, _ROLE_WORDS[member.role], _STATUS_WORDS[member.status],
            _day(member.date_admitted), _day(member.date_official), member.card_number or "",
            "x" if member.exempt else "", member.notes or "",
        ])  # fmt: skip
    return rows
