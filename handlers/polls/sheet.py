"""A poll's result sheet to print and sign (DOCX): the question, kind, ballot, rule, base, turnout,
each option's count and share, the verdict in the words the chat reads aloud, the date, and room
for signatures. Every line comes from handlers/polls/results.py, so the sheet and the chat agree.
A secret ballot's sheet names nobody; an open vote's lists each voter's choice, as its CSV does."""

from __future__ import annotations

import io
from datetime import datetime, tzinfo

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import moment_words
from handlers.contract import Translator
from handlers.polls.common import kind_name, option_labels, rule_name, where
from handlers.polls.results import base_text, interim_text, option_rows, result_header, turnout_text, verdict
from models.notice_queries import branch_names
from models.office_text import xml_safe
from models.polls import open_ballots, opinions, result
from models.tables import Poll, PollKind, PollStatus, utcnow


async def result_sheet_docx(
    session: AsyncSession, t: Translator, poll: Poll, timezone: tzinfo, *, now: datetime | None = None
) -> bytes:
    """The sheet as a .docx file's bytes. An open poll's sheet gives the counts so far and says
    that nothing is decided yet (a secret one's box is sealed until the close: zeros)."""
    # python-docx (with lxml) loads at the first sheet, not with the server.
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    _ = t.gettext
    decision = await result(session, poll)
    final = poll.status is PollStatus.CLOSED
    document = Document()
    section = document.sections[0]  # A4 with the margins of the minutes (handlers/meetings/papers.py)
    section.page_height, section.page_width = Cm(29.7), Cm(21)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    section.top_margin = section.bottom_margin = Cm(2)
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)
    title = document.add_heading(_("RESULT OF THE VOTE"), level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def line(label: str, value: str) -> None:
        paragraph = document.add_paragraph()
        paragraph.add_run(label + ": ").bold = True
        paragraph.add_run(xml_safe(value))

    if poll.branches is None:
        line(_("Branch"), _("the whole commune"))
    elif poll.branches:
        line(_("Branch"), ", ".join(await branch_names(session, poll.branches)))
    line(_("Question"), poll.question)
    line(_("Kind"), kind_name(t, poll.kind))
    if poll.kind is PollKind.ELECTION:
        document.add_paragraph(
            _("Seats (most names on one ballot): {count}; blank ballots allowed").format(count=poll.max_choices)
        )
    line(_("Ballot"), _("secret") if poll.secret else _("open (the secretary sees names)"))
    line(_("Rule"), rule_name(t, poll))
    if poll.opened_at is not None:
        line(_("Opened"), moment_words(t, poll.opened_at, timezone))
    closed = poll.closed_at if final else poll.deadline
    if closed is not None:
        line(_("Closed") if final else _("Deadline"), moment_words(t, closed, timezone))
    document.add_paragraph(xml_safe(base_text(t, decision)))
    document.add_paragraph(turnout_text(t, decision))

    header = result_header(t)
    rows = option_rows(t, poll, decision)
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = xml_safe(str(value))

    conclusion = document.add_paragraph()
    conclusion.add_run(_("Result") + ": ").bold = True
    conclusion.add_run(
        xml_safe(verdict(t, poll, decision) if final else interim_text(t, poll, decision).removeprefix("⏳ "))
    )
    document.add_paragraph(where(t, poll))

    ballots = [] if poll.secret else await open_ballots(session, poll)
    if ballots:  # an open vote: who chose what, as the voters were told on their ballot
        document.add_heading(_("Votes by name"), level=2)
        names = document.add_table(rows=1, cols=3)
        names.style = "Table Grid"
        for cell, text in zip(
            names.rows[0].cells, (_("Full name"), _("Choice"), _("Entered from paper by the secretary")), strict=True
        ):
            cell.paragraphs[0].add_run(text).bold = True
        labels = option_labels(t, poll)
        for name, option, entered in ballots:
            cells = names.add_row().cells
            cells[0].text, cells[1].text = xml_safe(name), xml_safe(labels[option])
            cells[2].text = _("yes") if entered else ""
    typed = [] if poll.secret else await opinions(session, poll)
    if typed:
        document.add_heading(_("Other opinion"), level=2)
        for name, text in typed:
            document.add_paragraph(xml_safe(f"{name}: {text}"), style="List Bullet")

    dated = document.add_paragraph(_("Made at {when}").format(when=moment_words(t, now or utcnow(), timezone)))
    dated.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signatures = document.add_table(rows=3, cols=2)
    for cell, text in zip(signatures.rows[0].cells, (_("Vote counter"), _("Secretary of the branch")), strict=True):
        paragraph = cell.paragraphs[0]
        paragraph.add_run(text).bold = True
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for cell in signatures.rows[1].cells:
        cell.text = _("(signature and full name)")
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for cell in signatures.rows[2].cells:
        cell.text = "\n\n\n"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
