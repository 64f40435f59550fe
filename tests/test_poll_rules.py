"""The rules that decide a poll, on cases computed by hand, and the words a secretary reads aloud.

The rules (DESIGN.md §4; Điều lệ Đảng, art. 10, and Quy định 294-QĐ/TW implementing it): a motion is
adopted only when "Tán thành" reaches the rule; the base is the membership less exempt members who did
not take part, suspended members, members temporarily active elsewhere and, at a meeting, members
absent with an accepted reason; an election elects each candidate with more than half of the base; a
consultation decides nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.i18n import Catalogs
from handlers.polls import results_text
from handlers.polls.results import option_rows, results_chart
from models.polls import RESOLUTION_OPTIONS, Deductions, clean_options, decide, fit_kind, votes_needed
from models.tables import Poll, PollBase, PollKind, PollRule, PollVoters, utcnow

MOTION, CHOICE, ELECTION, CONSULTATION = PollKind.MOTION, PollKind.CHOICE, PollKind.ELECTION, PollKind.CONSULTATION
HALF, TWO_THIRDS = PollRule.MAJORITY_OF_ELIGIBLE, PollRule.TWO_THIRDS_OF_ELIGIBLE


def test_more_than_half_of_the_membership_not_of_those_present() -> None:
    # 11 official members, 10 present and voting: 5 in favour is not more than half of 11, 6 is.
    assert not decide(MOTION, HALF, [5, 5, 0], voters=10, eligible=11).passed
    adopted = decide(MOTION, HALF, [6, 4, 0], voters=10, eligible=11)
    assert adopted.passed and adopted.chosen == (0,) and adopted.base == 11 and adopted.needed == 6
    # Most of those who voted were in favour, yet not more than half of the branch: not adopted.
    assert not decide(MOTION, HALF, [4, 1, 0], voters=5, eligible=11).passed
    assert [votes_needed(HALF, n) for n in (1, 2, 7, 10, 11)] == [1, 2, 4, 6, 6]


def test_a_majority_against_rejects_the_motion_and_adopts_nothing() -> None:
    # 7 voters, 5 not in favour: the motion is not adopted, and "Không tán thành" is not "adopted".
    rejected = decide(MOTION, HALF, [2, 5, 0], voters=7, eligible=7)
    assert not rejected.passed and rejected.chosen == () and rejected.leader == 1


def test_two_thirds() -> None:
    # At least two thirds of 9 is 6; of 10 it is 7 (6 is 60 %).
    assert decide(MOTION, TWO_THIRDS, [6, 3, 0], voters=9, eligible=9).passed
    assert not decide(MOTION, TWO_THIRDS, [5, 4, 0], voters=9, eligible=9).passed
    assert not decide(MOTION, TWO_THIRDS, [6, 4, 0], voters=10, eligible=10).passed
    assert decide(MOTION, TWO_THIRDS, [7, 3, 0], voters=10, eligible=10).passed
    assert [votes_needed(TWO_THIRDS, n) for n in (3, 9, 10, 11)] == [2, 6, 7, 8]


def test_the_base_leaves_out_exempt_suspended_elsewhere_and_excused() -> None:
    # 12 on the roll, 2 exempt who did not vote: base 10, 6 needed; 5 is not enough, 6 is.
    exempt = Deductions(exempt_absent=2)
    assert decide(MOTION, HALF, [6, 3, 0], voters=9, eligible=12, deducted=exempt).base == 10
    assert not decide(MOTION, HALF, [5, 4, 0], voters=9, eligible=12, deducted=exempt).passed
    assert decide(MOTION, HALF, [6, 3, 0], voters=9, eligible=12, deducted=exempt).passed
    # Suspended members and members temporarily active elsewhere are never on the roll (they do not
    # vote), so a branch of 13 with one of each has 11 on the roll and a base of 11: 6 needed.
    standing = Deductions(suspended=1, elsewhere=1)
    outside = decide(MOTION, HALF, [6, 5, 0], voters=11, eligible=11, deducted=standing)
    assert outside.base == 11 and outside.passed and outside.deducted.total == 2
    # At a meeting, 2 absent with an accepted reason leave the base: 11 on the roll, base 9, 5 win.
    excused = Deductions(excused_absent=2)
    assert decide(MOTION, HALF, [5, 4, 0], voters=9, eligible=11, deducted=excused).passed
    assert not decide(MOTION, HALF, [5, 4, 0], voters=9, eligible=11).passed
    # Two thirds of the same base: 12 on the roll, 3 exempt away, base 9, 6 needed.
    three = Deductions(exempt_absent=3)
    assert decide(MOTION, TWO_THIRDS, [6, 3, 0], voters=9, eligible=12, deducted=three).passed


def test_a_choice_has_a_winner_only_when_one_option_reaches_the_rule() -> None:
    # 11 eligible: 6 is more than half, 5 is the most but not enough.
    assert decide(CHOICE, HALF, [6, 3, 2], voters=11, eligible=11).chosen == (0,)
    no_majority = decide(CHOICE, HALF, [5, 4, 2], voters=11, eligible=11)
    assert no_majority.chosen == () and no_majority.leader == 0 and not no_majority.passed
    # More than 1/5 of the votes cast (a custom rule): two options reach it, so no single winner.
    assert decide(CHOICE, PollRule.CUSTOM, [4, 3, 1], voters=8, eligible=20, numerator=1, denominator=5,
                  base=PollBase.VOTED).chosen == ()  # fmt: skip
    # More than 3/5 of the votes cast: 4 of 6 is, 3 of 5 is not; exempt members do not change that base.
    of_votes = {"numerator": 3, "denominator": 5, "base": PollBase.VOTED, "deducted": Deductions(exempt_absent=4)}
    assert decide(MOTION, PollRule.CUSTOM, [4, 2, 0], voters=6, eligible=30, **of_votes).base == 6  # type: ignore[arg-type]
    assert decide(MOTION, PollRule.CUSTOM, [4, 2, 0], voters=6, eligible=30, **of_votes).passed  # type: ignore[arg-type]
    assert not decide(MOTION, PollRule.CUSTOM, [3, 2, 0], voters=5, eligible=30, **of_votes).passed  # type: ignore[arg-type]


def test_an_election_of_two_among_three_with_blank_ballots() -> None:
    # 11 official members, 10 ballots (2 blank), 2 seats: each candidate needs 6 of 11.
    elected = decide(ELECTION, HALF, [7, 6, 5], voters=10, eligible=11, seats=2, blank=2)
    assert elected.chosen == (0, 1) and elected.blank == 2 and elected.needed == 6
    # Only one reaches more than half: one elected, the second seat stays empty.
    assert decide(ELECTION, HALF, [8, 5, 5], voters=10, eligible=11, seats=2, blank=1).chosen == (0,)
    # Three reach it for two seats: the two with the most.
    assert decide(ELECTION, HALF, [9, 7, 6], voters=11, eligible=11, seats=2).chosen == (0, 1)
    # A tie for the last seat among those who reached it: neither tied candidate is elected.
    assert decide(ELECTION, HALF, [9, 7, 7], voters=11, eligible=11, seats=2).chosen == (0,)
    # Everyone blank: nobody elected.
    assert decide(ELECTION, HALF, [0, 0, 0], voters=10, eligible=11, seats=2, blank=10).chosen == ()


def test_a_consultation_is_never_adopted() -> None:
    asked = decide(CONSULTATION, PollRule.MOST_VOTES, [9, 1], voters=10, eligible=10)
    assert not asked.passed and asked.chosen == () and asked.leader == 0 and asked.needed == 0
    assert decide(CONSULTATION, PollRule.MOST_VOTES, [3, 3], voters=6, eligible=10).leader is None


def test_nobody_voted_or_nobody_to_vote() -> None:
    assert not decide(MOTION, HALF, [0, 0, 0], voters=0, eligible=10).passed
    assert not decide(MOTION, HALF, [0, 0, 0], voters=0, eligible=0).passed


def _poll(kind: PollKind, options: list[str], **fields: Any) -> Poll:
    return Poll(id=1, question="Thông qua kế hoạch quý I?", kind=kind, options=options,
                deadline=utcnow() + timedelta(days=1), **fields)  # fmt: skip


def test_the_kind_decides_options_rule_and_voters() -> None:
    draft = _poll(MOTION, list(RESOLUTION_OPTIONS))
    # Plurality or everyone's opinion: a consultation.
    assert fit_kind(draft, {"rule": PollRule.MOST_VOTES})["kind"] is CONSULTATION
    assert fit_kind(draft, {"voters": PollVoters.ALL})["kind"] is CONSULTATION
    # Typed options turn a motion into a choice, one option each.
    assert fit_kind(draft, {"options": ["A", "B"]}) == {"options": ["A", "B"], "kind": CHOICE, "max_choices": 1}
    # No plurality and no probationary voters outside a consultation.
    asked = _poll(CONSULTATION, ["A", "B"], rule=PollRule.MOST_VOTES, voters=PollVoters.ALL)
    back = fit_kind(asked, {"kind": MOTION})
    assert back["rule"] is HALF and back["voters"] is PollVoters.OFFICIALS
    assert back["options"] == list(RESOLUTION_OPTIONS) == ["Tán thành", "Không tán thành", "Ý kiến khác"]
    # An election is by secret ballot unless the secretary opens it.
    assert fit_kind(_poll(CHOICE, ["A", "B"]), {"kind": ELECTION})["secret"] is True


VI = Catalogs("vi").translator("vi")


def test_the_result_in_words_a_secretary_reads_aloud() -> None:
    motion = _poll(MOTION, list(RESOLUTION_OPTIONS))
    adopted = results_text(VI, motion, decide(MOTION, HALF, [7, 2, 0], voters=9, eligible=11))
    assert "✅ Ý kiến tán thành đạt quá nửa cơ sở tính: 7/11 đồng chí (63,6%)." in adopted
    assert "Tán thành: 7/11 (63,6%)" in adopted and "Không tán thành: 2/11 (18,2%)" in adopted
    assert "Đã bỏ phiếu: 9 trên 11 người có quyền biểu quyết." in adopted and "Cơ sở tính: 11 đồng chí." in adopted
    assert "Biểu quyết qua tin nhắn giữa các kỳ sinh hoạt là lấy ý kiến" in adopted
    rejected = results_text(VI, motion, decide(MOTION, HALF, [3, 6, 0], voters=9, eligible=11))
    assert "❌ Ý kiến tán thành không đạt quá nửa cơ sở tính: 3/11 đồng chí (27,3%), cần ít nhất 6." in rejected
    assert "được thông qua: Không" not in rejected
    deducted = Deductions(exempt_absent=1, suspended=1)
    based = results_text(VI, motion, decide(MOTION, HALF, [6, 3, 0], voters=9, eligible=11, deducted=deducted))
    assert "Cơ sở tính: 10 đồng chí (không tính miễn sinh hoạt, không tham gia: 1; đình chỉ sinh hoạt: 1)" in based
    at_meeting = results_text(VI, _poll(MOTION, list(RESOLUTION_OPTIONS), meeting_id=3),
                              decide(MOTION, HALF, [6, 3, 0], voters=9, eligible=11))  # fmt: skip
    assert "tại hội nghị chi bộ" in at_meeting and "qua tin nhắn" not in at_meeting

    election = _poll(ELECTION, ["Nguyễn Văn A", "Trần Thị B", "Lê Văn C"], max_choices=2)
    chosen = results_text(VI, election, decide(ELECTION, HALF, [7, 6, 5], voters=10, eligible=11, seats=2, blank=2))
    assert "Nguyễn Văn A: 7/11 (63,6%) — trúng cử" in chosen and "Lê Văn C: 5/11 (45,5%) — không trúng cử" in chosen
    assert "Phiếu trắng: 2" in chosen and "Trúng cử: Nguyễn Văn A, Trần Thị B." in chosen

    choice = _poll(CHOICE, ["Chủ nhật", "Thứ bảy"])
    assert "Ý kiến chọn “Chủ nhật” đạt quá nửa cơ sở tính: 6/11 (54,5%)." in results_text(
        VI, choice, decide(CHOICE, HALF, [6, 4], voters=10, eligible=11)
    )
    assert "Không phương án nào đạt quá nửa" in results_text(
        VI, choice, decide(CHOICE, HALF, [5, 5], voters=10, eligible=11)
    )

    consultation = _poll(CONSULTATION, ["Chủ nhật", "Thứ bảy"], rule=PollRule.MOST_VOTES)
    asked = results_text(VI, consultation, decide(CONSULTATION, PollRule.MOST_VOTES, [9, 1], voters=10, eligible=10))
    assert "Chủ nhật: 9\n" in asked and "%" not in asked and "thông qua:" not in asked
    assert "không biểu quyết thông qua" in asked


EN = Catalogs("vi").translator("en")


def test_those_entitled_to_vote_and_the_base_have_different_words() -> None:
    """Was: "Đã bỏ phiếu: 7 trên 10 người có quyền biểu quyết" beside shares of 8 and "quá nửa tổng số
    người có quyền biểu quyết": the same words for two numbers. The 10 are those entitled to vote; the
    base of 8 is what the rule and every share are measured against (DESIGN.md §4)."""
    # 10 official members on the roll, 7 voted; 2 exempt members did not vote and leave the base: 8.
    motion = _poll(MOTION, list(RESOLUTION_OPTIONS))
    decision = decide(MOTION, HALF, [5, 2, 0], voters=7, eligible=10, deducted=Deductions(exempt_absent=2))
    said = results_text(VI, motion, decision)
    assert "Tán thành: 5/8 (62,5%)" in said and "Ý kiến tán thành đạt quá nửa cơ sở tính: 5/8 đồng chí" in said
    assert "Cơ sở tính: 8 đồng chí (không tính miễn sinh hoạt, không tham gia: 2)." in said
    assert "Cách tính: quá nửa cơ sở tính." in said
    assert "Đã bỏ phiếu: 7 trên 10 người có quyền biểu quyết." in said
    assert said.count("có quyền biểu quyết") == 1  # said of the 10, never of the 8
    english = results_text(EN, motion, decision)
    assert "In favour: 5/8 (62.5%)" in english and "Base: 8 (left out: exempt and did not vote: 2)." in english
    assert "Rule: more than half of the base." in english
    assert "Turnout: 7 of 10 eligible voted." in english and english.count("eligible") == 1
    # A choice no option won names the rule in its verdict: of the base, with the base's number.
    choice = _poll(CHOICE, ["Chủ nhật", "Thứ bảy"])
    split = results_text(
        VI, choice, decide(CHOICE, HALF, [4, 3], voters=7, eligible=10, deducted=Deductions(exempt_absent=2))
    )
    assert "Không phương án nào đạt quá nửa cơ sở tính (cần ít nhất 5/8)." in split
    assert split.count("có quyền biểu quyết") == 1
    # The other rules name the base too, in both languages.
    two_thirds = _poll(MOTION, list(RESOLUTION_OPTIONS), rule=TWO_THIRDS)
    assert "Cách tính: ít nhất hai phần ba cơ sở tính." in results_text(VI, two_thirds, decision)
    assert "Rule: at least two thirds of the base." in results_text(EN, two_thirds, decision)
    custom = _poll(MOTION, list(RESOLUTION_OPTIONS), rule=PollRule.CUSTOM, rule_numerator=3, rule_denominator=5)
    assert "Cách tính: trên 3/5 cơ sở tính." in results_text(VI, custom, decision)
    assert "Rule: more than 3/5 of the base." in results_text(EN, custom, decision)
    cast = _poll(MOTION, list(RESOLUTION_OPTIONS), rule=PollRule.CUSTOM, rule_base=PollBase.VOTED)
    assert "Cách tính: trên 1/2 số phiếu đã bỏ." in results_text(VI, cast, decision)
    assert "Rule: more than 1/2 of the votes cast." in results_text(EN, cast, decision)


def test_a_tie_for_the_last_seats_is_said_as_one_and_voted_on_again() -> None:
    """Found by the outside tester: three candidates at 5/8 for 2 seats read "— không trúng cử" and
    "❌ Không đồng chí nào trúng cử (mỗi ứng cử viên cần ít nhất 5/8)", a false reason, with no word of
    the new round the branch holds among them; the chart drew the three as having won."""
    names = ["Trần Thị Lan", "Phạm Thị Hoa", "Vũ Thị Mai", "Lê Văn Nam"]
    election = _poll(ELECTION, names, max_choices=2)
    tied = decide(ELECTION, HALF, [5, 5, 5, 1], voters=8, eligible=8, seats=2)
    assert tied.chosen == ()  # the rule stands: the code breaks no tie
    said = results_text(VI, election, tied)
    assert "Trần Thị Lan: 5/8 (62,5%) — bằng phiếu, bầu lại" in said
    assert "Vũ Thị Mai: 5/8 (62,5%) — bằng phiếu, bầu lại" in said
    assert "Lê Văn Nam: 1/8 (12,5%) — không trúng cử" in said
    assert "Không đồng chí nào trúng cử" not in said and "cần ít nhất" not in said
    assert (
        "⚖️ Cần bầu 2 đồng chí: 3 đồng chí bằng phiếu nhau, mỗi đồng chí 5/8 phiếu (Trần Thị Lan, Phạm Thị Hoa, "
        "Vũ Thị Mai); chi bộ bầu lại trong số các đồng chí này."
    ) in said
    english = results_text(EN, election, tied)
    assert "Trần Thị Lan: 5/8 (62.5%) — tied: to be voted on again" in english
    assert (
        "2 seats to fill: 3 candidates tied with 5/8 votes each (Trần Thị Lan, Phạm Thị Hoa, Vũ Thị Mai); "
        "the branch votes again among them."
    ) in english
    # The sheet the secretary files says the same, and the chart marks nobody as elected.
    rows = option_rows(VI, election, tied)
    assert ["Trần Thị Lan", 5, "62,5%", "bằng phiếu, bầu lại"] in rows and [
        "Lê Văn Nam",
        1,
        "12,5%",
        "không trúng cử",
    ] in rows
    chart = results_chart(VI, election, tied)
    assert chart.chosen == () and chart.labels[0] == "Trần Thị Lan (bằng phiếu)" and chart.labels[3] == "Lê Văn Nam"

    # One clear winner, two tied for the last seat: the winner is elected, the two go to a new round.
    one = decide(ELECTION, HALF, [7, 5, 5, 1], voters=8, eligible=8, seats=2)
    said = results_text(VI, election, one)
    assert "Trần Thị Lan: 7/8 (87,5%) — trúng cử" in said and "Phạm Thị Hoa: 5/8 (62,5%) — bằng phiếu, bầu lại" in said
    assert (
        "✅ Trúng cử: Trần Thị Lan. Còn 1 đồng chí cần bầu: 2 đồng chí bằng phiếu nhau, mỗi đồng chí 5/8 phiếu "
        "(Phạm Thị Hoa, Vũ Thị Mai); chi bộ bầu lại trong số các đồng chí này."
    ) in said
    assert "1 seat left to fill: 2 candidates tied with 5/8 votes each (Phạm Thị Hoa, Vũ Thị Mai)" in results_text(
        EN, election, one
    )
    chart = results_chart(VI, election, one)
    assert chart.chosen == (0,) and chart.labels[:3] == (
        "Trần Thị Lan",
        "Phạm Thị Hoa (bằng phiếu)",
        "Vũ Thị Mai (bằng phiếu)",
    )
    # Below the threshold a tie is no tie for a seat: those candidates are simply not elected.
    low = decide(ELECTION, HALF, [4, 4, 4, 0], voters=8, eligible=8, seats=2)
    assert "bằng phiếu" not in results_text(VI, election, low)
    assert "❌ Không đồng chí nào trúng cử (mỗi ứng cử viên cần ít nhất 5/8)." in results_text(VI, election, low)


def test_a_motion_voted_in_chat_reports_opinions_not_a_resolution() -> None:
    """Found by the outside tester: a motion voted in chat read "Nghị quyết được thông qua" above the
    line saying the branch's formal decisions are taken at its meeting (DESIGN.md §4)."""
    in_chat = _poll(MOTION, list(RESOLUTION_OPTIONS))
    at_meeting = _poll(MOTION, list(RESOLUTION_OPTIONS), meeting_id=3)
    five = decide(MOTION, HALF, [5, 3, 1], voters=9, eligible=9)
    four = decide(MOTION, HALF, [4, 4, 1], voters=9, eligible=9)
    said = results_text(VI, in_chat, five)
    assert "✅ Ý kiến tán thành đạt quá nửa cơ sở tính: 5/9 đồng chí (55,6%)." in said
    assert "Nghị quyết" not in said and "thông qua:" not in said and "Tán thành: 5/9 (55,6%)" in said
    assert "❌ Ý kiến tán thành không đạt quá nửa cơ sở tính: 4/9 đồng chí (44,4%), cần ít nhất 5." in results_text(
        VI, in_chat, four
    )
    assert "The members in favour reach more than half of the base: 5/9 comrades (55.6%)." in results_text(
        EN, in_chat, five
    )
    assert "The members in favour do not reach more than half of the base: 4/9 comrades (44.4%); it needed 5." in (
        results_text(EN, in_chat, four)
    )
    # At the meeting the branch adopts the resolution, or does not.
    assert "✅ Nghị quyết được thông qua: 5/9 đồng chí tán thành (55,6%)." in results_text(VI, at_meeting, five)
    assert "❌ Không được thông qua: 4/9 tán thành (44,4%), cần ít nhất 5." in results_text(VI, at_meeting, four)
    # The sheet's outcome column likewise.
    assert ["Tán thành", 5, "55,6%", "đạt yêu cầu"] in option_rows(VI, in_chat, five)
    assert ["Tán thành", 5, "55,6%", "được thông qua"] in option_rows(VI, at_meeting, five)
    # A choice in chat is the members' preference; at the meeting the option is chosen.
    choice = _poll(CHOICE, ["Chủ nhật", "Thứ bảy"])
    preferred = decide(CHOICE, HALF, [6, 4], voters=10, eligible=11)
    assert "✅ Ý kiến chọn “Chủ nhật” đạt quá nửa cơ sở tính: 6/11 (54,5%)." in results_text(VI, choice, preferred)
    assert "The members choosing “Chủ nhật” reach more than half of the base: 6/11 (54.5%)." in results_text(
        EN, choice, preferred
    )
    chosen = results_text(VI, _poll(CHOICE, ["Chủ nhật", "Thứ bảy"], meeting_id=3), preferred)
    assert "✅ Phương án “Chủ nhật” được chọn: 6/11 (54,5%)." in chosen


def test_options_typed_on_one_line_are_split_at_semicolons_or_commas() -> None:
    """The web chat's box and many phones send one line: 'A, B, C' must not be one option."""
    assert clean_options(["Phạm Thị Hoa, Hoàng Văn Nam, Vũ Thị Mai"]) == ["Phạm Thị Hoa", "Hoàng Văn Nam", "Vũ Thị Mai"]
    assert clean_options(["Đường, điện; Trường học"]) == ["Đường, điện", "Trường học"]
    assert clean_options(["Một", "Hai, ba"]) == ["Một", "Hai, ba"]  # one per line wins
