"""Test harness: the real app over HTTP (httpx + ASGI lifespan) on a really migrated database.

LEADGRAPH_TEST_DATABASE_URL picks the database (a PostgreSQL URL for the PostgreSQL run);
without it the suite runs on a fresh SQLite file. Tables are emptied before every test.
"""

import logging
import os
import tempfile
from asyncio import selector_events
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from api.app import create_app
from api.settings import Settings
from models import ApiKey, Role, Workspace
from models.changes import background as change_feed_background

TABLES = [
    "anonymous_visit",
    "visitor",
    "rate_limit_counter",
    "opportunity",
    "lead_event",
    "lead_score",
    "interaction",
    "lead",
    "contact",
    "account",
    "scoring_model",
    "api_key",
    "workspace",
    # Change feed: change_log last, since deleting rows on SQLite logs them.
    "webhook_delivery",
    "webhook",
    "persisted_query",
    "change_log",
]


def database_url_for_tests() -> str:
    url = os.environ.get("LEADGRAPH_TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite://" + os.path.join(tempfile.mkdtemp(prefix="leadgraph-test-"), "test.sqlite3")


async def reset_postgres(url: str) -> None:
    """Start from an empty schema so the real migrations build every table."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def settings() -> Settings:
    url = database_url_for_tests()
    # No default per-address limit for capture keys here: key ids restart with every test on
    # PostgreSQL and in-process counters would carry over (the limit tests set it per key).
    settings = Settings(
        database_url=url,
        api_key_cache_seconds=0,
        db_pool_max=20,
        capture_rate_limit_per_address=0,
        webhook_dispatcher=False,  # webhook tests run dispatcher rounds themselves
    )
    if settings.is_postgres:
        await reset_postgres(url)
    await migrate(config=settings.tortoise_config())
    await Tortoise.close_connections()
    return settings


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(autouse=True)
async def clean_tables(request, settings: Settings) -> None:
    if "app" not in request.fixturenames and "http" not in request.fixturenames:
        return
    request.getfixturevalue("app")
    conn = connections.get("default")
    if settings.is_postgres:
        # change_watch: the listeners' table of watched workspaces (no model of its own).
        await conn.execute_script(
            f"TRUNCATE {', '.join(TABLES)}, change_watch RESTART IDENTITY CASCADE"
        )
    else:
        for table in TABLES:
            await conn.execute_script(f"DELETE FROM {table}")


class GraphQLErrors(AssertionError):
    pass


@dataclass
class Tenant:
    """A workspace with one API key per role, and a way to send GraphQL as each."""

    http: httpx.AsyncClient
    workspace: Workspace
    keys: dict[Role, str] = field(default_factory=dict)

    async def post(self, query: str, variables: dict | None = None, role: Role = Role.ADMIN):
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def gql(self, query: str, variables: dict | None = None, role: Role = Role.ADMIN) -> dict:
        """Sends a query and fails the test on any GraphQL error."""
        response = await self.post(query, variables, role)
        assert response.status_code == 200, response.text
        body = response.json()
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        return body["data"]

    async def mutate(self, name: str, input: dict, selection: str, role: Role = Role.ADMIN) -> dict:
        """Runs `name(input: $input) { selection userErrors {field message code} }`."""
        input_type = (
            "DeleteInput"
            if name.startswith(("delete", "revoke"))
            else name[0].upper() + name[1:] + "Input"
        )
        query = (
            f"mutation($input: {input_type}!) {{ {name}(input: $input) "
            f"{{ {selection} userErrors {{ field message code }} }} }}"
        )
        return (await self.gql(query, {"input": input}, role))[name]


@pytest.fixture
def make_tenant(http):
    async def make(name: str = "Acme") -> Tenant:
        workspace = await Workspace.create_with_unique_slug(name)
        tenant = Tenant(http, workspace)
        for role in Role:
            _, secret = await ApiKey.issue(workspace_id=workspace.id, role=role, name=role.value)
            tenant.keys[role] = secret
        return tenant

    return make


@pytest.fixture
async def tenant(make_tenant) -> Tenant:
    return await make_tenant("Acme")


class StatementCounter(logging.Handler):
    """Counts the SQL statements tortoise sends (it logs each at DEBUG), leaving out the
    per-request key lookup and rate-limit bookkeeping, which do not depend on the query."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if change_feed_background.get():  # the change feed's own tasks, not the request's SQL
            return
        message = record.getMessage().lstrip().upper()
        if '"API_KEY"' in message or "RATE_LIMIT_COUNTER" in message:
            return
        if message.startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(record.getMessage())


@pytest.fixture
def count_statements():
    logger = logging.getLogger("tortoise.db_client")
    handler = StatementCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


class RoundTripCounter:
    """Counts the messages asyncpg writes to PostgreSQL: it writes once and waits for the
    answer, so each write is one round trip (BEGIN, COMMIT, a statement's parse on a cache
    miss and the pool's reset on release included)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    @property
    def count(self) -> int:
        return len(self.writes)

    def resets(self) -> int:
        """The pool's reset on release (a simple query of the connection's reset statement)."""
        return sum(1 for w in self.writes if w[:1] == b"Q" and b"RESET ALL" in w)

    def clear(self) -> None:
        self.writes.clear()


@pytest.fixture
def count_round_trips(monkeypatch):
    counter = RoundTripCounter()
    original = selector_events._SelectorSocketTransport.write

    def write(self, data):
        counter.writes.append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", write)
    return counter
