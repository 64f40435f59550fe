"""The draft's screen: its text, who gets it and how many chibo can reach, and every tool to change,
attach, send, schedule or drop it."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Button, Reply, Rows, Translator
from handlers.notices.actions import CancelNotice, NoticeBranch, NoticeFilter, NoticeScope, SendNotice
from handlers.questions import Ask, Question
from models.notice_queries import branch_names, member_names
from models.notices import Audience, AudienceFilter, Reach, notice_file, reach, recipients
from models.permissions import Scope, scope_of
from models.tables import Member, Notice

PREVIEW_CHARS = 600


async def audience_words(ctx: Context, audience: Audience) -> str:
    return await audience_text(ctx.session, ctx.translator, audience)


async def audience_text(session: AsyncSession, t: Translator, audience: Audience) -> str:
    """Who the notice is for, in words: the chosen people, the branches or the whole commune, and
    how it is narrowed (the chat's preview and the desk say it alike)."""
    _ = t.gettext
    if audience.members is not None:
        where = ", ".join(await member_names(session, audience.members))
    elif audience.branches is None:
        where = _("the whole commune")
    else:
        where = ", ".join(await branch_names(session, audience.branches))
    narrowed = {
        AudienceFilter.ALL: "",
        AudienceFilter.OFFICIALS: " — " + _("official members only"),
        AudienceFilter.COMMITTEE: " — " + _("branch committee members only"),
    }[audience.filter]
    return where + narrowed


def reach_words(ctx: Context, counted: Reach) -> str:
    return reach_text(ctx.translator, counted)


def reach_text(t: Translator, counted: Reach) -> str:
    """Who will get it and how, the sender counted out: the same count the tracking screen starts from."""
    text = t.gettext(
        "{total} recipient(s), not counting you: {pushed} get it on Telegram or Zalo, {web} read it in the web "
        "chat, {unlinked} have not joined chibo (phone them)."
    ).format(total=counted.total, pushed=counted.pushable, web=counted.web_only, unlinked=len(counted.unlinked))
    if counted.unreachable:
        text += " " + t.gettext("{count} blocked or left chibo.").format(count=counted.unreachable)
    return text


async def audience_reach(ctx: Context, notice: Notice) -> Reach:
    return await notice_reach(ctx.session, notice)


async def notice_reach(session: AsyncSession, notice: Notice) -> Reach:
    """How the notice's audience can be reached today, its sender counted out."""
    people = await recipients(session, Audience.from_json(notice.audience))
    return await reach(session, [m for m in people if m.id != notice.author_member_id])


async def preview(ctx: Context, actor: Member, notice: Notice, note: str = "") -> Reply:
    _ = ctx.gettext
    audience = Audience.from_json(notice.audience)
    body = notice.text
    if len(body) > PREVIEW_CHARS:  # cut after a whole word, its lines kept
        head = body[:PREVIEW_CHARS]
        body = head[: max(head.rfind(" "), head.rfind("\n"), 1)].rstrip() + "…"
    lines = [
        note,
        _("Preview of the notice:"),
        "",
        body,
        "",
        _("To: {audience}").format(audience=await audience_words(ctx, audience)),
        reach_words(ctx, await audience_reach(ctx, notice)),
    ]
    ident = notice.id or 0
    commune = scope_of(actor) is Scope.COMMUNE

    def button(label: str, action: ActionData) -> Button:
        return Button(label, action.pack())

    # "Chi bộ của tôi" in the menu shows the branch: here the button sends to it.
    scope_row = [button("🏠 " + _("Send to my branch"), NoticeScope(ident, "branch"))]
    if commune:
        scope_row.append(button("🏛 " + _("Whole commune"), NoticeScope(ident, "commune")))
    file = await notice_file(ctx.session, ident)
    if file is not None:
        lines.insert(lines.index(body) + 1, "\n📎 " + _("Attached: {name}").format(name=file.filename))
    pick_row = [button("👥 " + _("Chosen people"), Ask(Question.NOTICE_PEOPLE, ident))]
    if commune:
        pick_row.append(button("🏘 " + _("Several branches"), NoticeBranch(ident)))
    buttons: Rows = (
        tuple(scope_row),
        tuple(pick_row),
        (
            button(_("Everyone"), NoticeFilter(ident, AudienceFilter.ALL)),
            button(_("Officials only"), NoticeFilter(ident, AudienceFilter.OFFICIALS)),
            button(_("Committee only"), NoticeFilter(ident, AudienceFilter.COMMITTEE)),
        ),
        (button("📎 " + _("Attach a document or photo"), Ask(Question.NOTICE_FILE, ident)),),
        (
            button("📤 " + _("Send now"), SendNotice(ident)),
            button("⏰ " + _("Schedule"), Ask(Question.NOTICE_WHEN, ident)),
        ),
        (button("✖️ " + _("Cancel"), CancelNotice(ident)),),
    )
    return Reply("\n".join(lines).strip(), buttons=buttons)
