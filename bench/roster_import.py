"""How fast the register imports. Run by hand:

    .venv/bin/python -m bench.roster_import [--rows 10000]

Writes a register of N rows as .xlsx, then prints: reading it with openpyxl alone (the baseline),
the whole import into a fresh SQLite database (parse, validate, reconcile, write, audit), rows per
second for both, their ratio, and the peak memory (RSS) of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook, load_workbook

from bot.demo import seed_demo
from bot.migrate import upgrade
from models.db import create_engine, session_factory
from models.roster import EXPORT_HEADER, import_members
from models.roster_files import read_register


def write_register(path: Path, rows: int) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(EXPORT_HEADER)
    for i in range(rows):
        sheet.append([
            f"Nguyễn Văn Thử {i}", f"{1 + i % 28:02d}/{1 + i % 12:02d}/19{50 + i % 49}", "Nam",
            f"09{i:08d}", ("DONG", "TAY", "TRUONG")[i % 3], "Đảng viên", "Chính thức",
            "01/03/2001", "01/03/2002", f"B{i:08d}", "", "",
        ])  # fmt: skip
    workbook.save(path)


async def import_file(path: Path, database: Path) -> int:
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await seed_demo(session)
            report = await import_members(session, read_register(path))
        return report.created
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "register.xlsx"
        write_register(path, args.rows)
        started = time.perf_counter()
        workbook = load_workbook(path, read_only=True, data_only=True)
        baseline_rows = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True)) - 1
        workbook.close()
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        created = asyncio.run(import_file(path, Path(directory) / "bench.db"))
        elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"openpyxl read only: {baseline_rows / baseline:9.0f} rows/s ({baseline:.2f} s)")
    print(f"chibo import:       {created / elapsed:9.0f} rows/s ({elapsed:.2f} s, {created} members created)")
    print(f"ratio import/read:  {elapsed / baseline:.1f}x the time of reading the file alone")
    print(f"peak RSS:           {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
