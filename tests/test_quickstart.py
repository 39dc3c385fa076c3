"""`make run` (the `leadgraph quickstart` command) keeps one demo key across runs."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="runs in the SQLite pass: `make run` (the quickstart) serves SQLite",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_quickstart(database: Path) -> str:
    """One `leadgraph quickstart`: wait until it serves, check its key works, stop it."""
    port = free_port()
    env = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": f"sqlite://{database}",
        "LEADGRAPH_PORT": str(port),
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
        "LEADGRAPH_LOG_LEVEL": "warning",
    }
    env.pop("LEADGRAPH_TEST_DATABASE_URL", None)
    leadgraph = Path(sys.executable).with_name("leadgraph")
    process = subprocess.Popen(
        [leadgraph, "quickstart"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("quickstart did not serve")
        page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"}).text
        key = page.split("Bearer ", 1)[1].split('\\"', 1)[0]
        answer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ apiKeys { name role revokedAt } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
        return key
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
        assert "Bearer lg_" in output  # the key is printed for other clients too


def quickstart_keys(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT k.name, k.role, k.revoked_at FROM api_key k JOIN workspace w "
            "ON w.id = k.workspace_id WHERE w.slug = 'demo'"
        ).fetchall()


def test_make_run_twice_leaves_one_quickstart_key(tmp_path):
    """Two runs serve the same key and leave one key in the demo workspace; when the saved
    secret is lost, a third run replaces the key instead of adding one."""
    database = tmp_path / "leadgraph.sqlite3"
    first = run_quickstart(database)
    second = run_quickstart(database)
    assert first == second
    assert quickstart_keys(database) == [("quickstart", "ADMIN", None)]

    Path(f"{database}-quickstart-key").unlink()
    third = run_quickstart(database)
    assert third != first
    assert quickstart_keys(database) == [("quickstart", "ADMIN", None)]
