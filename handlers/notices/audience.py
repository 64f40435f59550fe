"""Who gets a draft: the own branch or the whole commune, narrowed to officials or the committee,
several branches ticked one by one, or people chosen by typing their names."""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Context
from handlers.contract import Button, Reply, Translator
from handlers.notices.actions import NoticeBranch, NoticeFilter, NoticeScope, ShowNotice
from handlers.notices.common import cancel_row, notice_for, router
from handlers.notices.preview import preview
from handlers.questions import Awaiting, Question
from models.errors import NotFound
from models.notice_queries import active_members, all_branches
from models.notices import Audience, set_audience
from models.permissions import Permission, Target, may
from models.roster import fold
from models.tables import Branch, Member, Notice
from models.vietnamese import name_key


async def _change(ctx: Context, actor: Member, notice: Notice, audience: Audience) -> list[Reply]:
    await set_audience(ctx.session, actor, notice, audience)
    return [await preview(ctx, actor, notice)]


@router.on(NoticeScope)
async def change_scope(ctx: Context, actor: Member, action: NoticeScope) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    current = Audience.from_json(notice.audience)
    branches = (actor.branch_id,) if action.scope == "branch" else None
    return await _change(ctx, actor, notice, Audience(branches, current.filter))


@router.on(NoticeFilter)
async def change_filter(ctx: Context, actor: Member, action: NoticeFilter) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    current = Audience.from_json(notice.audience)
    return await _change(ctx, actor, notice, Audience(current.branches, action.filter, current.members))


@router.on(ShowNotice)
async def show(ctx: Context, actor: Member, action: ShowNotice) -> list[Reply]:
    return [await preview(ctx, actor, await notice_for(ctx, actor, action.notice_id))]


@router.on(NoticeBranch)
async def toggle_branch(ctx: Context, actor: Member, action: NoticeBranch) -> list[Reply]:
    """Several branches: each tap adds or removes one; "Done" shows the preview again."""
    _ = ctx.gettext
    notice = await notice_for(ctx, actor, action.notice_id)
    current = Audience.from_json(notice.audience)
    chosen = set(current.branches or ()) if current.members is None else set()
    if action.branch_id is not None:
        if await ctx.session.get(Branch, action.branch_id) is None:
            raise NotFound(f"branch {action.branch_id}")
        chosen ^= {action.branch_id}
        await set_audience(ctx.session, actor, notice, Audience(tuple(sorted(chosen)), current.filter))
    rows: list[tuple[Button, ...]] = [
        (Button(("☑️ " if b.id in chosen else "⬜ ") + b.name, NoticeBranch(action.notice_id, b.id).pack()),)
        for b in await all_branches(ctx.session)
        if may(actor, Permission.ANNOUNCE, Target(b.id or 0))
    ]
    rows.append((Button("✅ " + _("Done"), ShowNotice(action.notice_id).pack()),))
    return [
        Reply(
            _("Tap the branches that get the notice:"),
            buttons=tuple(rows),
            edit_message_id=ctx.inbound.source_message_id,
        )
    ]


def _people_prompt(ctx: Context) -> str:
    return ctx.gettext("Type the names of the people who get the notice, separated by commas, with or without accents.")


@router.prompts(Question.NOTICE_PEOPLE)
async def ask_people(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await notice_for(ctx, actor, awaiting.subject or 0)
    ctx.ask(awaiting)
    return [Reply(_people_prompt(ctx), buttons=cancel_row(ctx))]


async def match_people(ctx: Context, actor: Member, text: str, permission: Permission) -> tuple[list[int], list[str]]:
    return await match_names(ctx.session, ctx.translator, actor, text, permission)


async def match_names(
    session: AsyncSession, t: Translator, actor: Member, text: str, permission: Permission
) -> tuple[list[int], list[str]]:
    """Names typed with commas, with or without accents: each must point at exactly one active
    member the actor may act on with ``permission``. The member ids, and what was wrong."""
    _ = t.gettext
    reachable = [m for m in await active_members(session) if may(actor, permission, Target(m.branch_id))]
    chosen: list[int] = []
    problems: list[str] = []
    for typed in filter(None, (part.strip() for part in re.split(r"[,;\n]", text))):
        needle = fold(typed)
        matches = sorted((m for m in reachable if needle in fold(m.full_name)), key=lambda m: name_key(m.full_name))
        exact = [m for m in matches if fold(m.full_name) == needle]
        if len(exact) == 1 or len(matches) == 1:
            chosen.append((exact or matches)[0].id or 0)
        elif matches:
            names = ", ".join(m.full_name for m in matches[:5])
            problems.append(
                _("\u201c{text}\u201d could be several people: {names}").format(text=typed[:40], names=names)
            )
        else:
            problems.append(_("Nobody's name contains \u201c{text}\u201d.").format(text=typed[:40]))
    return list(dict.fromkeys(chosen)), problems


@router.answers(Question.NOTICE_PEOPLE)
async def people_from_text(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """Chosen people: each typed name must point at exactly one active member the actor may reach."""
    notice = await notice_for(ctx, actor, awaiting.subject or 0)
    chosen, problems = await match_people(ctx, actor, text, Permission.ANNOUNCE)
    if problems or not chosen:
        ctx.ask(awaiting)
        lines = problems or [_people_prompt(ctx)]
        return [Reply("\n".join([*lines, "", ctx.gettext("Please type the names again.")]))]
    current = Audience.from_json(notice.audience)
    return await _change(ctx, actor, notice, Audience((), current.filter, tuple(chosen)))
