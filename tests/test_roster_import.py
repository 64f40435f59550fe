"""Importing the branch register from the secretaries' Excel and CSV files."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from bot.runtime import Runtime
from handlers.contract import Attachment
from models.roster_files import read_register_bytes
from models.tables import AuditEvent, Branch, Member, MemberStatus, Role
from tests.chat import say
from tests.conftest import Demo
from tests.test_cli import run_chibo

HEADER_VI = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số điện thoại", "Chi bộ", "Chức vụ",
             "Ngày vào Đảng", "Ngày chính thức", "Số thẻ đảng viên", "Miễn sinh hoạt", "Ghi chú"]  # fmt: skip


def register_rows(count: int) -> list[list[object]]:
    return [
        [i, f"Nguyễn Thị Mẫu {i}", f"{1 + i % 28:02d}/{1 + i % 12:02d}/19{50 + i % 49}", "Nữ",
         f"09{i:08d}", "DONG", "Đảng viên", f"{1 + i % 28:02d}/03/2001", f"{1 + i % 28:02d}/03/2002",
         f"C{i:07d}", "", ""]
        for i in range(1, count + 1)
    ]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> Path:
    lines = [delimiter.join(header), *(delimiter.join(str(c) for c in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


async def chibo(runtime: Runtime, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {"CHIBO_DATABASE_URL": runtime.settings.database_url}
    result = await asyncio.to_thread(run_chibo, *args, env=env, cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


async def count_members(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(Member))).one()


async def test_xlsx_with_vietnamese_headers_imports_then_reimport_changes_nothing(
    runtime: Runtime, demo: Demo, tmp_path: Path
) -> None:
    before = await count_members(runtime)
    path = write_xlsx(tmp_path / "so-dang-vien.xlsx", HEADER_VI, register_rows(40))
    code, out, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 0, err
    assert "40 new, 0 updated, 0 unchanged" in out
    assert await count_members(runtime) == before + 40
    code, out, _ = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert "0 new, 0 updated, 40 unchanged" in out
    async with runtime.sessions() as session:
        member = (await session.exec(select(Member).where(Member.card_number == "C0000007"))).one()
        branch = await session.get(Branch, member.branch_id)
    assert member.full_name == "Nguyễn Thị Mẫu 7" and member.phone == "+84900000007"
    assert member.birth_date == date(1957, 8, 8) and member.status is MemberStatus.OFFICIAL
    assert member.role is Role.MEMBER and branch is not None and branch.code == "DONG"


async def test_changed_rows_update_and_are_audited(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    rows = register_rows(3)
    path = write_csv(tmp_path / "a.csv", HEADER_VI, rows, delimiter=";")
    assert (await chibo(runtime, tmp_path, "members", "import", str(path)))[0] == 0
    rows[1][4] = "+84 988 000 111"
    rows[1][6] = "Phó Bí thư"
    write_csv(path, HEADER_VI, rows, delimiter=";")
    code, out, _ = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 0 and "0 new, 1 updated, 2 unchanged" in out
    async with runtime.sessions() as session:
        event = (await session.exec(select(AuditEvent).where(AuditEvent.action == "member.updated"))).one()
    assert event.before == {"phone": "+84900000002", "role": "member"}
    assert event.after == {"phone": "+84988000111", "role": "deputy_secretary"}


async def test_english_headers_without_diacritics_and_iso_dates(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "en.csv",
        ["Full name", "Birth date", "Phone", "Branch", "Status", "Date admitted"],
        [["Tran Van Moi", "1990-05-01", "0912 345 678", "Chi bo thon Tay", "du bi", "2026-02-03"]],
    )
    code, _, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 0, err
    async with runtime.sessions() as session:
        member = (await session.exec(select(Member).where(Member.full_name == "Tran Van Moi"))).one()
    assert member.status is MemberStatus.PROBATIONARY and member.phone == "+84912345678"


async def test_bad_rows_are_listed_and_nothing_is_written(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    rows = register_rows(500)
    rows[9][2] = "31/02/1970"
    rows[99][1] = "=cmd|' /C calc'!A0"
    rows[499][9] = rows[0][9]
    path = write_xlsx(tmp_path / "bad.xlsx", HEADER_VI, rows)
    before = await count_members(runtime)
    code, _, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 1
    assert "dòng 11, Ngày sinh: “31/02/1970” không phải là ngày" in err
    assert "dòng 101, Họ và tên" in err  # Excel keeps "=..." as a formula with no value: an empty name
    assert "dòng 501, Số thẻ đảng viên: “C0000001”" in err
    assert "3 invalid row(s); nothing was written" in err
    assert await count_members(runtime) == before
    code, out, _ = await chibo(runtime, tmp_path, "members", "import", str(path), "--skip-invalid")
    assert code == 0 and "497 new" in out and "3 row(s) skipped" in out
    assert await count_members(runtime) == before + 497


async def test_formula_cells_in_csv_are_refused(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    rows = register_rows(2)
    rows[0][11] = '=HYPERLINK("http://evil")'
    rows[1][1] = "@SUM(A1)"
    path = write_csv(tmp_path / "f.csv", HEADER_VI, rows, delimiter=";")
    code, _, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 1
    assert "dòng 2, Ghi chú" in err and "dòng 3, Họ và tên" in err
    assert err.count("giống công thức bảng tính") == 2


async def test_dry_run_counts_and_writes_nothing(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", HEADER_VI, register_rows(5))
    before = await count_members(runtime)
    code, out, _ = await chibo(runtime, tmp_path, "members", "import", str(path), "--dry-run")
    assert code == 0 and "5 new, 0 updated, 0 unchanged member(s) would be imported" in out
    assert await count_members(runtime) == before


async def test_whole_file_problems_get_one_clear_line(runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.xlsx").write_text("not a zip")
    (tmp_path / "noheader.csv").write_text("a,b\n1,2\n")
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    expected = {
        "empty.csv": "Tệp empty.csv trống",
        "notes.txt": "chỉ dùng được tệp Excel (.xlsx) và CSV (.csv)",
        "fake.xlsx": "không phải là tệp Excel (.xlsx) hợp lệ",
        "noheader.csv": "ít nhất có cột “Họ và tên”",
        "big.csv": "nặng 50 MB; giới hạn là 20 MB",
        "missing.csv": "Không có tệp",
    }
    for name, message in expected.items():
        code, _, err = await chibo(runtime, tmp_path, "members", "import", str(tmp_path / name))
        assert code == 1 and message in err and "Traceback" not in err, (name, err)


async def test_rows_without_branch_need_the_branch_option(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nb.csv", ["Họ và tên", "Ngày sinh"], [["Lê Văn Không", "01/01/1980"]])
    code, _, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 1 and "--branch" in err
    code, out, _ = await chibo(runtime, tmp_path, "members", "import", str(path), "--branch", "TAY")
    assert code == 0 and "1 new" in out
    code, _, err = await chibo(runtime, tmp_path, "members", "import", str(path), "--branch", "NOPE")
    assert code == 1 and "no branch with the code 'NOPE'" in err


async def test_export_then_reimport_changes_nothing(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    for name in ("roster.xlsx", "roster.csv"):
        code, out, err = await chibo(runtime, tmp_path, "members", "export", str(tmp_path / name))
        assert code == 0 and "30 member(s) written" in out, err
        code, out, err = await chibo(runtime, tmp_path, "members", "import", str(tmp_path / name))
        assert code == 0, err
        assert "0 new, 0 updated, 30 unchanged" in out
    code, out, _ = await chibo(runtime, tmp_path, "members", "export", str(tmp_path / "tay.csv"), "--branch", "TAY")
    assert "10 member(s) written" in out
    text = (tmp_path / "tay.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[1].startswith("Tạ Văn Bình,")  # as registers list people: by given name
    assert ",0912000012,TAY,Bí thư,Chính thức," in text


async def test_a_10000_row_register_imports_with_progress(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", HEADER_VI, register_rows(10_000))
    code, out, err = await chibo(runtime, tmp_path, "members", "import", str(path))
    assert code == 0, err
    assert "Reading rows" in err
    assert "10000 new, 0 updated, 0 unchanged" in out
    assert await count_members(runtime) == 30 + 10_000


def test_a_nul_in_a_register_cell_is_dropped_not_a_server_error() -> None:
    """PostgreSQL refuses NUL in text: a name with one gave 500 (and the row in the error log)."""
    rows = read_register_bytes("nul.csv", "Họ và tên,Ngày sinh\nNguyễn Văn\x00 An,01/01/1980\n".encode())
    [(line, values)] = rows
    assert line == 2 and "Nguyễn Văn An" in values.values()


async def test_the_summary_counts_rows_with_problems_apart_from_the_problems(runtime: Runtime, demo: Demo) -> None:
    """Was: "2 dòng có lỗi" for two mistakes in one row."""
    await say(runtime, 300, f"/start {demo.code('Lý Văn Quang')}")
    text = "Họ và tên,Ngày sinh,Số điện thoại\nNguyễn Văn Mới,31/02/1970,12345\nLê Thị Đúng,01/01/1980,0912999001\n"
    sent = Attachment("dang-vien.csv", text.encode("utf-8"))
    reply = (await say(runtime, 300, attachment=sent))[0].text
    assert reply.startswith("dang-vien.csv: 1 dòng có lỗi (2 lỗi) nên không lưu gì.")
    assert "dòng 2, Ngày sinh" in reply and "dòng 2, Số điện thoại" in reply
