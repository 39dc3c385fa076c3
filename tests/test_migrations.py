"""The real migrations build the schema; the server refuses an unmigrated database."""

import asyncio
import os
import sys

from tortoise import connections


async def test_migrations_created_every_table(app):
    conn = connections.get("default")
    for table in ["workspace", "api_key", "account", "contact", "lead", "interaction"]:
        rows = await conn.execute_query_dict(f"SELECT COUNT(*) AS n FROM {table}")
        assert rows[0]["n"] == 0  # exists (and the per-test cleanup emptied it)


async def test_server_refuses_to_start_on_unmigrated_database(tmp_path):
    env = {**os.environ, "LEADGRAPH_DATABASE_URL": f"sqlite://{tmp_path / 'empty.sqlite3'}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode != 0
    assert b"not migrated" in output and b"leadgraph migrate" in output
