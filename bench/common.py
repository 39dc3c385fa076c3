"""What the benchmarks share: the seeded PostgreSQL database, a uvicorn worker, wrk, /proc CPU."""

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
from tortoise import Tortoise

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from models import ApiKey, Role, Workspace  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/leadgraph_bench"


def bench_args(*, connections: int, port: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument("--port", type=int, default=port)
    return parser.parse_args()


def database_url() -> str:
    return os.environ.get("LEADGRAPH_BENCH_DATABASE_URL", DEFAULT_URL)


def migrate(url: str, code: Path = ROOT) -> None:
    """`leadgraph migrate` on `url`, run by the code in `code` (this checkout by default)."""
    env = {**os.environ, "LEADGRAPH_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, env=env, cwd=code)


async def prepare(url: str, contacts: int) -> int:
    """Create, migrate and seed the bench database once; returns the workspace id."""
    admin = await asyncpg.connect(
        url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    )
    name = url.rsplit("/", 1)[1]
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    migrate(url)
    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        if not await Workspace.filter(slug="bench").exists():
            from models.demo import seed_demo

            started = time.monotonic()
            print(f"seeding {contacts} contacts ...", flush=True)
            workspace = await Workspace.create(name="Bench", slug="bench")
            await workspace.add_default_scoring_model()
            print(await seed_demo(workspace, contacts=contacts), flush=True)
            print(f"seeded and scored in {time.monotonic() - started:.0f} s", flush=True)
        workspace_id = (await Workspace.get(slug="bench")).id
    finally:
        await Tortoise.close_connections()
    # Earlier write benchmarks leave dead rows behind; measure on a vacuumed database.
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return workspace_id


@contextlib.asynccontextmanager
async def scratch_copy(url: str, suffix: str = "scratch") -> AsyncIterator[str]:
    """A copy of the seeded database for a benchmark that writes, dropped afterwards: every run
    starts from the same rows (re-scoring reads each contact's interactions, so interactions
    left by earlier runs would make every later run slower)."""
    base, name = url.rsplit("/", 1)
    copy = f"{name}_{suffix}"
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://") + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
        yield f"{base}/{copy}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        await admin.close()


async def issue_key(url: str, workspace_id: int, role: Role) -> str:
    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        _, secret = await ApiKey.issue(workspace_id=workspace_id, role=role, name="bench")
        return secret
    finally:
        await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def uvicorn_worker(
    url: str, port: int, *, cwd: Path = ROOT, **extra_env: str
) -> AsyncIterator[subprocess.Popen]:
    """One worker of the code in `cwd` (another checkout's: `python -m` puts it first on the
    path), ready when this yields."""
    env = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": url,
        "LEADGRAPH_LOG_LEVEL": "warning",
        "LEADGRAPH_DB_POOL_MAX": "20",
        "LEADGRAPH_API_KEY_CACHE_SECONDS": "60",
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
        "LEADGRAPH_RATE_LIMIT_PER_MINUTE": "0",  # throughput, not limits, is measured here
        "LEADGRAPH_MAX_EXPENSIVE_READS_PER_WORKSPACE": "0",  # one tenant: no isolation cap
        **extra_env,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=cwd,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        yield server
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 30)  # the loop may host the round-trip proxy


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


RANDOM_CONTACT_LUA = """math.randomseed(%d)
local ids = {%s}
local template = [[%s]]
local numbered = string.find(template, "RANDOM_NUMBER", 1, true)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  local body = string.gsub(template, "CONTACT_ID", ids[math.random(#ids)])
  if numbered then
    body = string.gsub(body, "RANDOM_NUMBER", tostring(math.random(1000000)))
  end
  return wrk.format(nil, nil, nil, body)
end
"""


def random_contact_script(body: str, contact_ids: list[str], key: str, seed: int) -> str:
    """wrk's script sending `body` with CONTACT_ID replaced by a contact drawn at random from
    `contact_ids` (and RANDOM_NUMBER, where present, by a random number), with `key`."""
    return RANDOM_CONTACT_LUA % (seed, ", ".join(f'"{i}"' for i in contact_ids), body, key)


def run_wrk(port: int, lua: str, duration: int, connections: int) -> dict:
    """wrk (1 thread) against /graphql with the given Lua script; parses rate and latency."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "30s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/graphql",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


class RoundTrips:
    """Counts what PostgreSQL receives through `round_trip_proxy`: each simple query ('Q') and
    each Sync ('S', the end of an extended-protocol exchange) is one round trip."""

    def __init__(self) -> None:
        self.count = 0


async def _pipe_counting(reader, writer, client_writer, counter: RoundTrips) -> None:
    """Client -> server, parsing message boundaries (SSL is refused so the stream stays plain)."""
    try:
        while True:  # startup phase: length-prefixed messages without a type byte
            length = int.from_bytes(await reader.readexactly(4), "big")
            body = await reader.readexactly(length - 4)
            if int.from_bytes(body[:4], "big") in (80877103, 80877104):  # SSL/GSSENC request
                client_writer.write(b"N")  # answered here, not forwarded
                continue
            writer.write(length.to_bytes(4, "big") + body)
            break
        while True:
            kind = await reader.readexactly(1)
            length_bytes = await reader.readexactly(4)
            body = await reader.readexactly(int.from_bytes(length_bytes, "big") - 4)
            if kind in (b"Q", b"S"):
                counter.count += 1
            writer.write(kind + length_bytes + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def round_trip_proxy(url: str) -> AsyncIterator[tuple[str, RoundTrips]]:
    """A loopback proxy in front of the database: (the URL through it, its counter)."""
    parts = re.match(r"(\w+://[^@]*@)([^:/]+)(?::(\d+))?(/.*)", url)
    assert parts, url
    host, port = parts.group(2), int(parts.group(3) or 5432)
    counter = RoundTrips()

    async def handle(client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(
            _pipe_counting(client_reader, server_writer, client_writer, counter),
            _pipe(server_reader, client_writer),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    try:
        yield f"{parts.group(1)}127.0.0.1:{proxy_port}{parts.group(4)}", counter
    finally:
        server.close()
