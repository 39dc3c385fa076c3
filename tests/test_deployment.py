"""The Docker image's and compose.yaml's commands, run as written in those files, from a fresh
virtualenv that installed leadgraph non-editable from a freshly built wheel (this machine has no
container engine). Slow (it builds and installs): runs when LEADGRAPH_DEPLOY_TEST=1, as in CI."""

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("LEADGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")

pytestmark = pytest.mark.skipif(
    os.environ.get("LEADGRAPH_DEPLOY_TEST") != "1",
    reason="builds a wheel and a virtualenv (about a minute): set LEADGRAPH_DEPLOY_TEST=1 "
    "(.ci/run does)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dockerfile() -> tuple[dict[str, str], list[str], str]:
    """The final stage's ENV, its CMD (exec form) and its HEALTHCHECK command (shell form)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", final, re.M).group(1))
    health = re.search(r"^HEALTHCHECK .* CMD (.*)$", final, re.M).group(1)
    return env, cmd, health


def compose_service() -> tuple[dict[str, str], list[str]]:
    """The leadgraph service's environment (defaults of ${VAR:-default} applied) and command."""
    service = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["leadgraph"]
    env = {
        name: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
        for name, value in service["environment"].items()
    }
    return env, service["command"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtualenv with leadgraph installed from a wheel built from this tree."""
    base = tmp_path_factory.mktemp("deploy")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ROOT], check=True
    )
    (wheel,) = dist.glob("leadgraph-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in [
        "api/graphiql.html",
        "api/static/graphiql/graphiql.min.js",
        "api/static/graphiql/graphiql.min.css",
        "api/static/graphiql/react.production.min.js",
        "api/static/graphiql/react-dom.production.min.js",
        "api/static/graphiql/licenses/graphiql.txt",
        "api/static/graphiql/licenses/react.txt",
        "models/migrations/0001_initial.py",
    ]:
        assert needed in names, f"{needed} is missing from the wheel"
    subprocess.run([sys.executable, "-m", "venv", base / "venv"], check=True)
    subprocess.run([base / "venv/bin/pip", "install", "-q", wheel], check=True)
    return base / "venv"


def run_env(venv: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADGRAPH_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    return {**env, **settings}


def start(command: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, str]:
    """The command as the container runs it, in its own process group (see `stop`)."""
    with (cwd / "server.log").open("w") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log, stderr=log, start_new_session=True
        )
    url = f"http://127.0.0.1:{env['LEADGRAPH_PORT']}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    stop(process)
    raise AssertionError("the server did not start: " + (cwd / "server.log").read_text())


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group (server and workers), as `docker stop` signals the container."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything left in the group


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    """What `docker compose run --rm leadgraph leadgraph ARGS` runs in the container."""
    done = subprocess.run(
        ["leadgraph", *args], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def first_workspace_and_key(env: dict[str, str], cwd: Path) -> str:
    slug = cli(env, cwd, "create-workspace", "Acme")
    return cli(env, cwd, "create-api-key", "--workspace", slug, "--role", "ADMIN")


def test_image_defaults_to_one_worker_on_sqlite(venv, tmp_path):
    """The image's CMD with its ENV: migrates and serves SQLite in /data (here a temp folder),
    passes its HEALTHCHECK, serves the documented first workspace and key, keeps introspection
    and GraphiQL off, and refuses several workers on SQLite."""
    image_env, command, healthcheck = dockerfile()
    assert image_env["LEADGRAPH_WORKERS"] == "1"
    assert image_env["LEADGRAPH_INTROSPECTION"] == image_env["LEADGRAPH_GRAPHIQL"] == "false"
    data = tmp_path / "data"
    data.mkdir()
    settings = {
        **image_env,
        "LEADGRAPH_DATABASE_URL": image_env["LEADGRAPH_DATABASE_URL"].replace("/data", str(data)),
        "LEADGRAPH_HOST": "127.0.0.1",
        "LEADGRAPH_PORT": str(free_port()),
    }
    env = run_env(venv, settings)
    process, url = start(command, env, tmp_path)
    try:
        subprocess.run(["sh", "-c", healthcheck], env=env, check=True)
        key = first_workspace_and_key(env, tmp_path)
        headers = {"Authorization": f"Bearer {key}"}
        answer = httpx.post(
            f"{url}/graphql", json={"query": "{ accounts { totalCount } }"}, headers=headers
        )
        assert answer.json() == {"data": {"accounts": {"totalCount": 0}}}
        introspection = httpx.post(
            f"{url}/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers
        ).json()
        assert "introspection" in introspection["errors"][0]["message"].lower()
        page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})
        assert "GraphiQL" not in page.text
        assert (data / "leadgraph.sqlite3").is_file()
    finally:
        stop(process)
    refused = subprocess.run(
        command,
        env={**env, "LEADGRAPH_WORKERS": "2"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "Several workers need PostgreSQL" in refused.stderr


@pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the compose shape needs PostgreSQL: set LEADGRAPH_TEST_DATABASE_URL",
)
def test_compose_runs_several_workers_on_postgresql_and_redis(venv, tmp_path):
    """compose.yaml's command and environment (PostgreSQL and Redis pointed at this machine's):
    migrations on start on an empty database, several workers, JSON logs, and /metrics that add
    up every worker's counts whichever worker answers the scrape."""
    from conftest import reset_postgres

    database = os.environ["LEADGRAPH_TEST_DATABASE_URL"]
    asyncio.run(reset_postgres(database))
    image_env, _, _ = dockerfile()
    compose_env, command = compose_service()
    workers = int(compose_env["LEADGRAPH_WORKERS"])
    assert workers > 1
    settings = {
        **image_env,
        **compose_env,
        "LEADGRAPH_DATABASE_URL": database,
        "LEADGRAPH_REDIS_URL": REDIS_URL,
        "LEADGRAPH_HOST": "127.0.0.1",
        "LEADGRAPH_PORT": str(free_port()),
    }
    env = run_env(venv, settings)
    process, url = start(command, env, tmp_path)
    try:
        key = first_workspace_and_key(env, tmp_path)
        query = {"query": "query Count { accounts { totalCount } }"}
        for _ in range(20):  # a new connection each: the workers share them out
            answer = httpx.post(
                f"{url}/graphql", json=query, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200, answer.text
        for _ in range(workers * 2):
            text = httpx.get(f"{url}/metrics").text
            counts = {
                (sample.labels.get("operation"), sample.labels.get("outcome")): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "leadgraph_graphql_requests_total"
            }
            assert counts[("Count", "ok")] == 20
    finally:
        stop(process)
    lines = [
        line for line in (tmp_path / "server.log").read_text().splitlines() if line.startswith("{")
    ]
    access = [json.loads(line) for line in lines if '"leadgraph.access"' in line]
    assert len(access) == 20 and all(a["operation"] == "Count" and a["request_id"] for a in access)
    started = [json.loads(line)["message"] for line in lines]
    assert sum("Started server process" in message for message in started) == workers
