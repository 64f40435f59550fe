"""The persistent main menu and the labels it is made of, in the member's language."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Button, Catalogs, Rows, Translator
from handlers.payloads import Action, Payload
from models.permissions import leads_any_branch
from models.tables import Member


def _labels(t: Translator) -> dict[Action, str]:
    _ = t.gettext
    return {
        Action.MY_DETAILS: "👤 " + _("My details"),
        Action.MY_BRANCH: "🏠 " + _("My branch"),
        Action.NOTICES: "📢 " + _("Notices"),
        Action.OPEN_POLLS: "🗳 " + _("Open votes"),
        Action.MEETINGS: "📅 " + _("Meetings"),
        Action.MANAGE: "🛠 " + _("Manage"),
        Action.CHOOSE_LANGUAGE: "🌐 " + _("Language / Ngôn ngữ"),
        Action.HELP: "❓ " + _("Help"),
    }


def main_menu(ctx: Context, member: Member) -> Rows:
    labels = _labels(ctx.translator)

    def button(action: Action) -> Button:
        return Button(labels[action], Payload(action).encode())

    rows: list[tuple[Button, ...]] = [
        (button(Action.NOTICES), button(Action.OPEN_POLLS)),
        (button(Action.MEETINGS),),
        (button(Action.MY_DETAILS), button(Action.MY_BRANCH)),
    ]
    if leads_any_branch(member):
        rows.append((button(Action.MANAGE),))
    rows.append((button(Action.CHOOSE_LANGUAGE), button(Action.HELP)))
    return tuple(rows)


def action_for_label(catalogs: Catalogs, text: str) -> Action | None:
    """The menu action whose label the member tapped (platforms with reply keyboards send the
    label as text). Every language counts, since an old keyboard may still be on screen."""
    wanted = text.strip()
    for locale in catalogs.locales:
        for action, label in _labels(catalogs.translator(locale)).items():
            if wanted == label:
                return action
    return None
