"""The demo commune: one committee, three branches, 30 members with printed invite codes, and a year
of party dues (the twelve months before the current one, a few left unpaid) so the books and the
reports upward show something from the first run."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.dues import DEFAULT_RATES, add_months, amount_of, month_of
from models.tables import Branch, Committee, DuesCategory, DuesPayment, Gender, Member, MemberStatus, Role, utcnow

COMMITTEE_NAME = "Đảng ủy xã Tân Hòa (dữ liệu mẫu)"

# (code, name, members); each member: full name, gender, birth year, role, status, admitted, exempt
_M, _F = Gender.MALE, Gender.FEMALE
_S, _D, _C, _P = Role.SECRETARY, Role.DEPUTY_SECRETARY, Role.COMMITTEE_MEMBER, Role.MEMBER
_OFF, _PRO = MemberStatus.OFFICIAL, MemberStatus.PROBATIONARY
_BRANCHES: list[tuple[str, str, list[tuple[str, Gender, int, Role, MemberStatus, int, bool]]]] = [
    (
        "DONG",
        "Chi bộ thôn Đông",
        [
            ("Nguyễn Văn Hùng", _M, 1968, _S, _OFF, 1995, False),
            ("Trần Thị Lan", _F, 1975, _D, _OFF, 2002, False),
            ("Lê Văn Minh", _M, 1950, _P, _OFF, 1972, True),
            ("Phạm Thị Hoa", _F, 1982, _C, _OFF, 2008, False),
            ("Hoàng Văn Nam", _M, 1990, _P, _OFF, 2015, False),
            ("Vũ Thị Mai", _F, 1963, _P, _OFF, 1990, False),
            ("Đặng Văn Tuấn", _M, 1998, _P, _PRO, 2026, False),
            ("Bùi Thị Hương", _F, 1987, _P, _OFF, 2012, False),
            ("Đỗ Văn Thành", _M, 1944, _P, _OFF, 1966, True),
            ("Ngô Thị Thu", _F, 1993, _P, _OFF, 2019, False),
            ("Dương Văn Long", _M, 1979, _P, _OFF, 2005, False),
        ],
    ),
    (
        "TAY",
        "Chi bộ thôn Tây",
        [
            ("Lý Văn Quang", _M, 1971, _S, _OFF, 1998, False),
            ("Hồ Thị Ngọc", _F, 1984, _D, _OFF, 2010, False),
            ("Mai Văn Sơn", _M, 1958, _P, _OFF, 1982, False),
            ("Trịnh Thị Yến", _F, 1995, _P, _PRO, 2026, False),
            ("Đinh Văn Khánh", _M, 1966, _P, _OFF, 1992, False),
            ("Lương Thị Hạnh", _F, 1977, _P, _OFF, 2003, False),
            ("Tạ Văn Bình", _M, 1948, _P, _OFF, 1970, True),
            ("Phan Thị Loan", _F, 1989, _P, _OFF, 2014, False),
            ("Cao Văn Dũng", _M, 2000, _P, _PRO, 2025, False),
            ("Chu Thị Thảo", _F, 1969, _P, _OFF, 1996, False),
        ],
    ),
    (
        "TRUONG",
        "Chi bộ Trường Tiểu học Tân Hòa",
        [
            ("Võ Thị Thanh", _F, 1974, _S, _OFF, 2000, False),
            ("Nguyễn Đức Anh", _M, 1986, _D, _OFF, 2011, False),
            ("Trần Minh Châu", _F, 1991, _P, _OFF, 2017, False),
            ("Lê Thị Phương", _F, 1980, _P, _OFF, 2006, False),
            ("Phạm Quốc Việt", _M, 1996, _P, _PRO, 2026, False),
            ("Hoàng Thị Diệu", _F, 1978, _P, _OFF, 2004, False),
            ("Vũ Đình Khoa", _M, 1983, _P, _OFF, 2009, False),
            ("Đỗ Thị Kim", _F, 1972, _P, _OFF, 1999, False),
            ("Ngô Văn Phúc", _M, 1994, _P, _OFF, 2020, False),
        ],
    ),
]


# Each member's dues category and base (VND a month); everyone else: "other members", a fixed amount.
_DUES: dict[str, tuple[DuesCategory, int | None]] = {
    "Nguyễn Văn Hùng": (DuesCategory.SALARY, 8_000_000),
    "Trần Thị Lan": (DuesCategory.SALARY, 2_500_000),  # a village cadre's monthly allowance
    "Lê Văn Minh": (DuesCategory.PENSION, 4_000_000),
    "Đỗ Văn Thành": (DuesCategory.PENSION, 4_000_000),
    "Lý Văn Quang": (DuesCategory.SALARY, 7_000_000),
    "Tạ Văn Bình": (DuesCategory.ELDERLY, None),
    "Cao Văn Dũng": (DuesCategory.STUDENT, None),
}
# The school's teachers are paid a salary.
_SCHOOL_SALARY = 6_000_000
# The months before the current one (1: the last month) a member has not paid; and a member who
# paid the last six months at once, on the 15th of the last month.
DEMO_UNPAID = {"Hoàng Văn Nam": (1, 2, 3), "Ngô Thị Thu": (2,), "Phan Thị Loan": (1, 2)}
DEMO_LUMP = "Ngô Văn Phúc"
DEMO_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


async def seed_demo(session: AsyncSession, today: date | None = None) -> bool:
    """Create the demo commune unless it exists; True when it was created."""
    if (await session.exec(select(Committee).where(Committee.name == COMMITTEE_NAME))).first():
        return False
    committee = Committee(name=COMMITTEE_NAME)
    session.add(committee)
    await session.flush()
    serial = 0
    for code, name, people in _BRANCHES:
        category, base = (DuesCategory.SALARY, _SCHOOL_SALARY) if code == "TRUONG" else (DuesCategory.OTHER, None)
        branch = Branch(committee_id=committee.id, code=code, name=name)  # type: ignore[arg-type]
        session.add(branch)
        await session.flush()
        for full_name, gender, born, role, status, admitted, exempt in people:
            serial += 1
            session.add(
                Member(
                    branch_id=branch.id,  # type: ignore[arg-type]
                    full_name=full_name,
                    gender=gender,
                    birth_date=date(born, 1 + serial % 12, 1 + serial % 28),
                    phone=f"+849120000{serial:02d}",
                    card_number=f"DEMO{serial:05d}",
                    role=role,
                    # The first branch secretary also leads the commune committee.
                    committee_role=Role.SECRETARY if serial == 1 else None,
                    status=status,
                    date_admitted=date(admitted, 1 + serial % 12, 3 + serial % 25),
                    date_official=date(admitted + 1, 1 + serial % 12, 3 + serial % 25) if status is _OFF else None,
                    exempt=exempt,
                    dues_category=_DUES.get(full_name, (category, None))[0],
                    dues_base=_DUES.get(full_name, (category, base))[1],
                )
            )
    await session.flush()
    await _seed_dues(session, today or utcnow().astimezone(DEMO_TIMEZONE).date())
    return True


async def _seed_dues(session: AsyncSession, today: date) -> None:
    """A year of dues: each month before the current one paid on its 15th to the branch's secretary,
    from the month of admission, but for ``DEMO_UNPAID``; ``DEMO_LUMP`` paid six months at once."""
    members = (await session.exec(select(Member))).all()
    collectors = {m.branch_id: m.id for m in members if m.role is Role.SECRETARY}
    current = month_of(today)
    payments = []
    for member in members:
        amount = amount_of(member, DEFAULT_RATES)
        assert amount is not None and member.date_admitted is not None
        for back in range(1, 13):
            month = add_months(current, -back)
            if back in DEMO_UNPAID.get(member.full_name, ()) or month < month_of(member.date_admitted):
                continue
            paid_on = (
                add_months(current, -1).replace(day=15)
                if member.full_name == DEMO_LUMP and back <= 6
                else month.replace(day=15)
            )
            payments.append(
                DuesPayment(
                    member_id=member.id or 0,
                    branch_id=member.branch_id,
                    month=month,
                    amount=amount,
                    paid_on=paid_on,
                    recorded_by_member_id=collectors.get(member.branch_id),
                )
            )
    session.add_all(payments)
    await session.flush()
