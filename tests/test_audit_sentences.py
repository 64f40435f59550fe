"""Every audit action has its sentence for the log, with the placeholders its reader fills, and a
Vietnamese translation that keeps them."""

from __future__ import annotations

from string import Formatter

from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, Catalogs
from models.audit import AuditAction
from models.audit_sentences import SENTENCES, sentence, stored_fields

COMMON = {"actor", "subject"}


def _placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in Formatter().parse(text) if name is not None}


def _texts() -> list[str]:
    return [text for s in SENTENCES.values() for text in (s.text, s.unattended) if text is not None]


def test_every_action_has_a_sentence_naming_its_fields() -> None:
    assert set(SENTENCES) == set(AuditAction)
    for action, known in SENTENCES.items():
        assert _placeholders(known.text) - COMMON == set(known.fields), action
        if known.unattended is not None:
            assert "actor" not in _placeholders(known.unattended), action
            assert _placeholders(known.unattended) - COMMON == set(known.fields), action


def test_every_sentence_is_translated_with_the_same_placeholders() -> None:
    with (LOCALES_DIR / "vi" / "LC_MESSAGES" / "chibo.po").open("rb") as po_file:
        vietnamese = {m.id: m.string for m in read_po(po_file) if m.id and m.string and not m.fuzzy}
    with (LOCALES_DIR / "en" / "LC_MESSAGES" / "chibo.po").open("rb") as po_file:
        english = {m.id for m in read_po(po_file) if m.id}
    for text in _texts():
        assert text in vietnamese, text
        assert text in english, text
        assert _placeholders(str(vietnamese[text])) == _placeholders(text), text


def test_a_sentence_reads_in_the_members_language() -> None:
    said = Catalogs("vi").translator("vi").gettext(sentence("meeting.attendance") or "")
    line = said.format(actor="Đồng chí Lan", subject="Thu", attendance="có mặt", day="05/12")
    assert line == "Đồng chí Lan đánh dấu đồng chí Thu có mặt tại cuộc họp ngày 05/12"


def test_the_sentence_follows_who_did_it() -> None:
    assert sentence("poll.closed") == SENTENCES[AuditAction.POLL_CLOSED].text
    assert sentence("poll.closed", attended=False) == SENTENCES[AuditAction.POLL_CLOSED].unattended
    assert sentence("poll.opened", attended=False) == SENTENCES[AuditAction.POLL_OPENED].text
    assert sentence("no.such_action") is None  # a row older than the enum is shown as stored


def test_every_sentence_field_is_stored_as_shown_or_needs_words() -> None:
    after = {"recipients": 12, "audience": {"branches": None}, "invites": 2, "quorum": "2/3"}
    assert stored_fields(None, after) == {"recipients": 12, "count": 2, "quorum": "2/3"}
    assert stored_fields({"starts_at": "2026-12-05T19:00:00+00:00"}, None) == {}
    stored = ["platform", "invites", "who", "recipients", "messages", "eligible", "ballots", "present", "excused"]
    stored += ["absent", "quorum", "name", "label", "question", "votes", "organisation", "introducer", "year"]
    stored += ["sessions", "months", "amount", "paid_on"]
    in_words = {"changes", "language", "reason", "attendance", "member", "at", "starts_at", "previous", "day"}
    in_words |= {"on", "until", "step", "level"}
    fields = {field for known in SENTENCES.values() for field in known.fields}
    assert set(stored_fields({}, dict.fromkeys(stored, 0))) | in_words == fields
