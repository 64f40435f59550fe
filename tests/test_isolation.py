"""Each test starts from the template's state: a PostgreSQL database given back by one test is handed
to the next emptied, its ids starting again, and one whose schema a test changed is not handed on."""

from __future__ import annotations

import asyncpg

from tests.conftest import PostgresDatabases, _asyncpg_dsn, _postgres_url


async def _execute(name: str, *statements: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_asyncpg_dsn(_postgres_url(name)))
    try:
        for statement in statements[:-1]:
            await connection.execute(statement)
        rows: list[asyncpg.Record] = await connection.fetch(statements[-1])
        return rows
    finally:
        await connection.close()


async def test_a_database_is_handed_on_empty_with_its_ids_restarted(postgres_databases: PostgresDatabases) -> None:
    name = await postgres_databases.take(fresh=False)
    await _execute(
        name,
        "INSERT INTO committee (name) VALUES ('A'), ('B')",
        "INSERT INTO branch (committee_id, code, name) VALUES (2, 'X', 'X')",
        "SELECT 1",
    )
    await postgres_databases.give_back(name, fresh=False)
    assert name in postgres_databases.free
    again = await postgres_databases.take(fresh=False)
    assert again == name
    try:
        rows = await _execute(again, "SELECT (SELECT count(*) FROM committee) + (SELECT count(*) FROM branch)")
        assert rows[0][0] == 0
        made = await _execute(again, "INSERT INTO committee (name) VALUES ('C') RETURNING id")
        assert made[0][0] == 1
    finally:
        await postgres_databases.give_back(again, fresh=False)


async def test_a_database_whose_schema_changed_is_dropped(postgres_databases: PostgresDatabases) -> None:
    name = await postgres_databases.take(fresh=False)
    await _execute(name, "ALTER TABLE committee ADD COLUMN left_behind integer", "SELECT 1")
    await postgres_databases.give_back(name, fresh=False)
    assert name not in postgres_databases.free and name not in postgres_databases.made
    gone = await _execute(postgres_databases.template, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'")
    assert gone[0][0] == 0
