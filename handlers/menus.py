"""The persistent main menu and the labels it is made of, in the member's language."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Button, Catalogs, Rows, Translator
from models.permissions import leads_any_branch
from models.tables import Member

# The main menu's entries: the doors into each feature. They are declared here, not in the
# features, because every feature's replies carry this menu; each feature's router handles its own.


@dataclass(frozen=True)
class Home(ActionData, prefix="home", open_to_strangers=True):
    pass


@dataclass(frozen=True)
class Help(ActionData, prefix="help", open_to_strangers=True):
    pass


@dataclass(frozen=True)
class MyDetails(ActionData, prefix="me"):
    pass


@dataclass(frozen=True)
class MyBranch(ActionData, prefix="branch"):
    pass


@dataclass(frozen=True)
class Notices(ActionData, prefix="notices"):
    pass


@dataclass(frozen=True)
class OpenPolls(ActionData, prefix="polls"):
    pass


@dataclass(frozen=True)
class Meetings(ActionData, prefix="meet"):
    pass


@dataclass(frozen=True)
class Manage(ActionData, prefix="manage"):
    pass


@dataclass(frozen=True)
class ChooseLanguage(ActionData, prefix="lang", open_to_strangers=True):
    pass


# The secretary's "Manage" menu: its doors into the features.


@dataclass(frozen=True)
class NewNotice(ActionData, prefix="nnew"):
    pass


@dataclass(frozen=True)
class SentNotices(ActionData, prefix="nlist"):
    pass


@dataclass(frozen=True)
class NewPoll(ActionData, prefix="pnew"):
    pass


@dataclass(frozen=True)
class PollList(ActionData, prefix="plist"):
    pass


@dataclass(frozen=True)
class BranchRoster(ActionData, prefix="roster"):
    pass


@dataclass(frozen=True)
class RecentChanges(ActionData, prefix="audit"):
    pass


@dataclass(frozen=True)
class ProbationDue(ActionData, prefix="mpd"):
    """Who is due to be made official."""


@dataclass(frozen=True)
class Books(ActionData, prefix="bk"):
    """The branch's books: meeting records, transfers, admission candidates, the year-end review."""


@dataclass(frozen=True)
class MyReview(ActionData, prefix="bky"):
    """A member's own year-end review (from their details)."""


@dataclass(frozen=True)
class OpenDesk(ActionData, prefix="desk"):
    """A one-time link to the secretary's desk, for a computer."""


@dataclass(frozen=True)
class SignOutEverywhere(ActionData, prefix="deskout"):
    """End every session of the secretary's desk the member has open."""


@dataclass(frozen=True)
class MyDues(ActionData, prefix="dme"):
    """The member's own party dues: their amount, the months paid and unpaid (handlers/dues)."""


@dataclass(frozen=True)
class BooksUpward(ActionData, prefix="bks"):
    """Party dues, the reports upward and Party badges (handlers/dues)."""


def _labels(t: Translator) -> dict[ActionData, str]:
    _ = t.gettext
    return {
        MyDetails(): "👤 " + _("My details"),
        MyBranch(): "🏠 " + _("My branch"),
        Notices(): "📢 " + _("Notices"),
        OpenPolls(): "🗳 " + _("Open votes"),
        Meetings(): "📅 " + _("Meetings"),
        Manage(): "🛠 " + _("Manage"),
        ChooseLanguage(): "🌐 " + _("Language / Ngôn ngữ"),
        Help(): "❓ " + _("Help"),
    }


def main_menu(ctx: Context, member: Member) -> Rows:
    labels = _labels(ctx.translator)

    def button(action: ActionData) -> Button:
        return Button(labels[action], action.pack())

    rows: list[tuple[Button, ...]] = [
        (button(Notices()), button(OpenPolls())),
        (button(Meetings()),),
        (button(MyDetails()), button(MyBranch())),
    ]
    if leads_any_branch(member):
        rows.append((button(Manage()),))
    rows.append((button(ChooseLanguage()), button(Help())))
    return tuple(rows)


def action_for_label(catalogs: Catalogs, text: str) -> ActionData | None:
    """The menu action whose label the member tapped (platforms with reply keyboards send the
    label as text). Every language counts, since an old keyboard may still be on screen."""
    wanted = text.strip()
    for locale in catalogs.locales:
        for action, label in _labels(catalogs.translator(locale)).items():
            if wanted == label:
                return action
    return None
