"""The demo commune: one committee, three branches, 30 members with printed invite codes."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Branch, Committee, Gender, Member, MemberStatus, Role

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


async def seed_demo(session: AsyncSession) -> bool:
    """Create the demo commune unless it exists; True when it was created."""
    if (await session.exec(select(Committee).where(Committee.name == COMMITTEE_NAME))).first():
        return False
    committee = Committee(name=COMMITTEE_NAME)
    session.add(committee)
    await session.flush()
    serial = 0
    for code, name, people in _BRANCHES:
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
                )
            )
    await session.flush()
    return True
