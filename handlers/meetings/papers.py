"""A meeting's papers to print: the minutes in the usual form (to sign) and the sign-in sheet, as
Word documents (python-docx, loaded at the first document)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import select

from handlers.context import Context, moment_words
from handlers.meetings.minutes import attendance_names, status_counts
from handlers.meetings.texts import validity_text
from models.meetings import invitations, summarize
from models.office_text import xml_safe
from models.tables import Attendance, Branch, Committee, Meeting, MeetingInvitation, Member

if TYPE_CHECKING:
    from docx.document import Document
    from docx.table import _Cell

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Signers:
    """Who chaired the meeting and who kept the minutes (names, as they sign)."""

    chair: str = ""
    minute_taker: str = ""


async def _heading(ctx: Context, meeting: Meeting) -> tuple[str, str]:
    committee = (await ctx.session.exec(select(Committee.name))).first() or ""
    branch = None if meeting.branch_id is None else await ctx.session.get(Branch, meeting.branch_id)
    return committee, branch.name if branch is not None else committee


def _document(committee: str, unit: str, party: str) -> Document:
    """A page with the party document's heading: the organisation left, the party's name right."""
    from docx import Document as new_document
    from docx.shared import Cm, Pt

    document = new_document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    section.top_margin = section.bottom_margin = Cm(2)
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)
    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    left.paragraphs[0].add_run(xml_safe(committee.upper())).bold = False
    left.add_paragraph().add_run(xml_safe(unit.upper())).bold = True
    right.paragraphs[0].add_run(party.upper()).bold = True
    _centre_cells(left, right)
    return document


def _centre_cells(*cells: _Cell) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    for cell in cells:
        for paragraph in cell.paragraphs:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _centred(document: Document, text: str, *, bold: bool = True, size: int = 14) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(xml_safe(text))
    run.bold = bold
    run.font.size = Pt(size)


def _bytes(document: Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def minutes_document(ctx: Context, meeting: Meeting, signers: Signers) -> bytes:
    """The minutes in the usual form: time, place, chair and minute-taker, the members summoned by
    status, who was present and who was absent by name (with reasons), whether the meeting was
    valid, the agenda, the proceedings and conclusions as typed, and the two signatures."""
    _ = ctx.gettext
    t = ctx.translator
    invited = await invitations(ctx.session, meeting.id or 0)
    committee, unit = await _heading(ctx, meeting)
    document = _document(committee, unit, _("COMMUNIST PARTY OF VIETNAM"))
    _centred(document, _("MINUTES"), size=15)
    _centred(document, meeting.title, bold=True, size=13)
    statuses = status_counts(t, invited)
    by_state = attendance_names(invited)
    counts = summarize(meeting, [invitation for invitation, _member in invited])
    lines = [
        _("Time: {when}").format(when=moment_words(t, meeting.starts_at, ctx.timezone)),
        _("Place: {place}").format(place=meeting.place or "…"),
        _("Chair: {name}").format(name=signers.chair or "…"),
        _("Minute-taker: {name}").format(name=signers.minute_taker or "…"),
        _("Members summoned: {count} ({statuses})").format(
            count=len(invited), statuses=", ".join(f"{name} {count}" for name, count in statuses.items())
        ),
    ]
    headings = (
        (Attendance.PRESENT, _("Present ({count}): {names}")),
        (Attendance.EXCUSED, _("Excused ({count}): {names}")),
        (Attendance.ABSENT, _("Absent without reason ({count}): {names}")),
        (Attendance.UNRECORDED, _("Not recorded ({count}): {names}")),
    )
    for state, line in headings:
        if state is not Attendance.UNRECORDED or by_state[state]:
            lines.append(line.format(count=len(by_state[state]), names=", ".join(by_state[state]) or "—"))
    lines += validity_text(t, counts).replace("✅ ", "").replace("❌ ", "").split("\n")
    for line in lines:
        document.add_paragraph(xml_safe(line))
    document.add_paragraph().add_run(_("Agenda:")).bold = True
    for number, item in enumerate(meeting.agenda, start=1):
        document.add_paragraph(xml_safe(f"{number}. {item}"))
    document.add_paragraph().add_run(_("Proceedings:")).bold = True
    for paragraph in (meeting.minutes_text or "…").split("\n"):
        document.add_paragraph(xml_safe(paragraph))
    document.add_paragraph().add_run(_("Conclusions:")).bold = True
    for paragraph in (meeting.conclusions or "…").split("\n"):
        document.add_paragraph(xml_safe(paragraph))
    signatures = document.add_table(rows=3, cols=2)
    for column, (role, name) in enumerate(((_("MINUTE-TAKER"), signers.minute_taker), (_("CHAIR"), signers.chair))):
        cells = [signatures.rows[row].cells[column] for row in range(3)]
        cells[0].paragraphs[0].add_run(role).bold = True
        cells[1].paragraphs[0].add_run(_("(signature and full name)")).italic = True
        cells[2].paragraphs[0].add_run("\n\n\n" + xml_safe(name)).bold = True
        _centre_cells(*cells)
    return _bytes(document)


async def sign_in_document(ctx: Context, meeting: Meeting) -> bytes:
    """The sign-in sheet: every member invited, by name, with a column to sign."""
    _ = ctx.gettext
    invited: list[tuple[MeetingInvitation, Member]] = await invitations(ctx.session, meeting.id or 0)
    committee, unit = await _heading(ctx, meeting)
    document = _document(committee, unit, _("COMMUNIST PARTY OF VIETNAM"))
    _centred(document, _("SIGN-IN SHEET"), size=15)
    _centred(document, meeting.title, size=13)
    document.add_paragraph(_("Time: {when}").format(when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone)))
    document.add_paragraph(xml_safe(_("Place: {place}").format(place=meeting.place or "…")))
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, (_("No."), _("Full name"), _("Notes"), _("Signature")), strict=True):
        cell.paragraphs[0].add_run(title).bold = True
    for number, (invitation, member) in enumerate(invited, start=1):
        cells = table.add_row().cells
        cells[0].text = str(number)
        cells[1].text = xml_safe(member.full_name)
        cells[2].text = _("exempt") if invitation.exempt else ""
    return _bytes(document)
