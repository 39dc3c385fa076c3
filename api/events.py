"""Live events for subscriptions: this process's subscribers and where their changes come from.

PostgreSQL: one dedicated connection per process LISTENs on the channel the change-log triggers
notify at commit (payload `workspace:txid`, once per transaction); the transaction's rows are
loaded on that connection (index on workspace, txid, id) when the workspace has subscribers here,
and fanned out in memory. The triggers notify only for workspaces listed in `change_watch`: the
listener lists those it has subscribers of and renews them while they last. A transaction whose
trigger ran before a new watch was committed sends no notice, so the listener also sweeps the
log every few seconds by snapshot: the rows of its workspaces written by transactions that its
previous sweep's snapshot did not show (at or past its xmax, or in progress then). When the
connection is lost it reconnects, LISTENs again and replays the rows committed meanwhile (by id,
skipping those already sent). SQLite (one process): an in-process poller reads new rows by id
while anyone subscribes.
Every subscriber has a bounded queue; a subscriber that falls behind is ended with an error that
tells the client to re-sync with `changes`.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import connections

from api import metrics
from api.settings import Settings
from models.changes import COLUMNS, NOTIFY_CHANNEL, Change, background

logger = logging.getLogger("leadgraph.events")
LOAD_CHUNK = 5000
KEEPALIVE_SECONDS = 2.0  # also how often the listener sweeps its workspaces' rows
WATCH_SECONDS = 60  # a watch row's lifetime; renewed after a third of it
WATCH = ""  # queued for the listener when a workspace gets its first subscriber here
SQLITE_POLL_SECONDS = 0.05
REMEMBERED_IDS = 100_000
LISTENER_NAME = "leadgraph-listener"  # application_name of the LISTEN connection


def subscription_opened(field_name: str) -> None:
    """A client's subscription started: counted in the 'subscriptions open' gauge. Called per
    client operation by api/subscriptions.py, shared execution or not."""
    metrics.subscription_opened()


def subscription_closed(field_name: str) -> None:
    """A client's subscription ended, for whatever reason."""
    metrics.subscription_closed()


class SubscriberOverflow(Exception):
    pass


@dataclass(frozen=True)
class Event:
    change: Change
    batch: "Batch"


@dataclass
class Batch:
    """Events published together share per-workspace state, e.g. one set of data loaders, so
    a thousand subscribers resolving the same lead cost one query."""

    shared: dict = field(default_factory=dict)


@dataclass(eq=False)
class Subscriber:
    workspace_id: int
    entities: frozenset[str]
    queue: asyncio.Queue
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self) -> Event:
        if self.overflowed:
            raise SubscriberOverflow(
                "This subscription fell too far behind and was ended; catch up with the "
                "`changes` query, then subscribe again."
            )
        return await self.queue.get()


class Broker:
    """This process's subscribers, by workspace."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[int, set[Subscriber]] = {}
        self.wakeup = asyncio.Event()
        self.on_new_workspace: Callable[[int], None] | None = None

    @property
    def workspaces(self) -> set[int]:
        """The workspaces with subscribers here."""
        return set(self._subscribers)

    @property
    def open(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def has_subscribers(self, workspace_id: int | None = None) -> bool:
        if workspace_id is None:
            return bool(self._subscribers)
        return workspace_id in self._subscribers

    @contextlib.contextmanager
    def subscribe(
        self, workspace_id: int, entities: frozenset[str], field_name: str
    ) -> Iterator[Subscriber]:
        subscriber = Subscriber(workspace_id, entities, asyncio.Queue(self.queue_size))
        if workspace_id not in self._subscribers and self.on_new_workspace is not None:
            self.on_new_workspace(workspace_id)
        self._subscribers.setdefault(workspace_id, set()).add(subscriber)
        self.wakeup.set()
        try:
            yield subscriber
        finally:
            group = self._subscribers.get(workspace_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[workspace_id]

    def publish(self, changes: list[Change]) -> None:
        batch = Batch()
        for change in changes:
            event = None
            for subscriber in self._subscribers.get(change.workspace_id, ()):
                if change.entity in subscriber.entities:
                    event = event or Event(change, batch)
                    subscriber.offer(event)


def asyncpg_dsn(database_url: str) -> str:
    """The database URL without tortoise's pool options, for a plain asyncpg connection."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql", query=""))


class PostgresListener:
    """The process's one LISTEN connection, reconnecting when it is lost."""

    def __init__(self, broker: Broker, dsn: str) -> None:
        self.broker = broker
        self.dsn = dsn
        self.connected = asyncio.Event()
        self.connections_made = 0
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._lost = asyncio.Event()
        self._last_id = 0
        self._sent: deque[int] = deque(maxlen=REMEMBERED_IDS)
        self._sent_set: set[int] = set()
        self._behind = False  # notified of rows past _last_id that were not loaded
        self._caught_up_at = 0.0
        self._watched: set[int] = set()  # workspaces whose watch row this process keeps
        self._renewed_at = 0.0
        self._cursor: tuple[int, list[int]] | None = None  # last sweep's snapshot: xmax, xip
        self._swept_at = 0.0
        self._loaded: set[tuple[int, int]] = set()  # (workspace, txid) loaded by notice
        broker.on_new_workspace = self._on_new_workspace

    def _on_notify(self, connection, pid, channel, payload: str) -> None:
        self._pending.put_nowait(payload)

    def _on_new_workspace(self, workspace_id: int) -> None:
        self._pending.put_nowait(WATCH)

    def _on_lost(self, connection) -> None:
        self._lost.set()

    async def connect(self) -> asyncpg.Connection:
        """The LISTEN connection. Its statements are planned for their values every time: a
        generic plan of the sweep (`workspace_id = ANY(...) AND txid >= ... ORDER BY id
        LIMIT ...`) walks the primary key over the whole log (480 ms on 855,403 rows instead
        of 0.3 ms), and asyncpg prepares every statement, so PostgreSQL may switch to it."""
        return await asyncpg.connect(
            self.dsn,
            server_settings={
                "application_name": LISTENER_NAME,
                "plan_cache_mode": "force_custom_plan",
            },
        )

    async def run(self) -> None:
        delay = 0.1
        while True:
            conn = None
            try:
                conn = await self.connect()
                conn.add_termination_listener(self._on_lost)
                self._lost.clear()
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self._watched = set()  # listed again on this connection
                if self.connections_made:
                    await self._replay(conn)
                else:
                    self._last_id = await conn.fetchval(
                        "SELECT COALESCE(MAX(id), 0) FROM change_log"
                    )
                await self._watch(conn)
                self.connections_made += 1
                self.connected.set()
                delay = 0.1
                await self._serve(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("change listener: connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _serve(self, conn: asyncpg.Connection) -> None:
        while not self._lost.is_set():
            try:
                payload = await asyncio.wait_for(self._pending.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await conn.fetchval("SELECT 1")  # notices a silently dead connection
                await self._catch_up(conn)
                await self._watch(conn)
                continue
            payloads = [payload]
            while not self._pending.empty():
                payloads.append(self._pending.get_nowait())
            for item in payloads:
                if item != WATCH:
                    await self._load(conn, item)
            await self._catch_up(conn)
            await self._watch(conn)
        raise OSError("the listener connection was terminated")

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """List the workspaces with subscribers here in `change_watch` (new ones at once, all of
        them again after a third of their lifetime) and sweep every KEEPALIVE_SECONDS.

        A new workspace is swept from the snapshot taken just before its watch row was written:
        a transaction that commits after that snapshot but ran its trigger before the row was
        there sent no notice; the next sweep finds its rows. Rows committed before the snapshot
        are older than the subscription and are not sent."""
        now = asyncio.get_running_loop().time()
        wanted = self.broker.workspaces
        new = wanted - self._watched
        if new:
            await self._sweep(conn)
        if new or (wanted and now - self._renewed_at >= WATCH_SECONDS / 3):
            await conn.execute(
                "INSERT INTO change_watch (workspace_id, until) SELECT w, now() + "
                "make_interval(secs => $2) FROM unnest($1::int[]) AS w "
                "ON CONFLICT (workspace_id) DO UPDATE "
                "SET until = GREATEST(change_watch.until, excluded.until)",
                sorted(wanted),
                WATCH_SECONDS,
            )
            self._renewed_at = now
        self._watched = wanted
        if wanted and now - self._swept_at >= KEEPALIVE_SECONDS:
            await self._sweep(conn)

    async def _sweep(self, conn: asyncpg.Connection) -> None:
        """Publish the rows of watched workspaces from transactions the previous sweep's
        snapshot did not show and that no notice loaded, then keep this sweep's snapshot. One
        REPEATABLE READ transaction: the snapshot and the rows read agree."""
        self._swept_at = asyncio.get_running_loop().time()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            xmax, xip = await conn.fetchrow(
                "SELECT pg_snapshot_xmax(s)::text::bigint, "
                "ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) "
                "FROM pg_current_snapshot() AS s"
            )
            if self._cursor is not None and self._watched:
                since, running = self._cursor
                await self._publish_rows(
                    conn,
                    "workspace_id = ANY($1::int[]) AND (txid >= $2 OR txid = ANY($3::bigint[])) "
                    "AND workspace_id || ':' || txid <> ALL($4::text[])",
                    sorted(self._watched),
                    since,
                    running,
                    [f"{w}:{t}" for w, t in sorted(self._loaded)],
                )
        self._cursor = (xmax, list(xip))
        running = set(xip)
        self._loaded = {(w, t) for w, t in self._loaded if t >= xmax or t in running}

    async def _load(self, conn: asyncpg.Connection, payload: str) -> None:
        workspace_id, txid = (int(x) for x in payload.split(":")[:2])
        if not self.broker.has_subscribers(workspace_id):
            self._behind = True
            return
        self._loaded.add((workspace_id, txid))
        await self._publish_rows(conn, "workspace_id = $1 AND txid = $2", workspace_id, txid)

    async def _publish_rows(
        self, conn: asyncpg.Connection, condition: str, *args: object, after: int = 0
    ) -> None:
        """Page through the log rows matching `condition` (over $1..$n) in id order, past id
        `after`, and publish those of workspaces with subscribers here; the ids read move the
        replay start."""
        n = len(args)
        while True:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM change_log WHERE {condition} AND id > ${n + 1} "
                f"ORDER BY id LIMIT ${n + 2}",
                *args,
                after,
                LOAD_CHUNK,
            )
            if rows:
                after = rows[-1]["id"]
                self._last_id = max(self._last_id, after)
                changes = [Change.from_row(dict(r)) for r in rows]
                self._publish([c for c in changes if self.broker.has_subscribers(c.workspace_id)])
            if len(rows) < LOAD_CHUNK:
                return

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        """Where a replay would start: past the rows of transactions nobody here wanted (their
        notifications name no ids), read at most once a second."""
        now = asyncio.get_running_loop().time()
        if self._behind and now - self._caught_up_at >= 1.0:
            newest = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM change_log")
            self._last_id = max(self._last_id, newest)
            self._behind, self._caught_up_at = False, now

    def _publish(self, changes: list[Change]) -> None:
        fresh = [c for c in changes if c.id not in self._sent_set]
        for change in fresh:
            if len(self._sent) == self._sent.maxlen:
                self._sent_set.discard(self._sent[0])
            self._sent.append(change.id)
            self._sent_set.add(change.id)
        if fresh:
            self.broker.publish(fresh)

    async def _replay(self, conn: asyncpg.Connection) -> None:
        """Rows committed while the connection was down (notifications are not replayed)."""
        await self._publish_rows(conn, "TRUE", after=self._last_id)


class SqlitePoller:
    """SQLite has no NOTIFY and runs in one process: read new rows by id while anyone listens."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._last_id: int | None = None

    async def run(self) -> None:
        background.set(True)
        conn = connections.get("default")
        while True:
            if not self.broker.has_subscribers():
                self._last_id = None
                self.broker.wakeup.clear()
                await self.broker.wakeup.wait()
            try:
                if self._last_id is None:
                    rows = await conn.execute_query_dict(
                        "SELECT COALESCE(MAX(id), 0) AS id FROM change_log"
                    )
                    self._last_id = rows[0]["id"]
                rows = await conn.execute_query_dict(
                    f"SELECT {COLUMNS} FROM change_log WHERE id > ? ORDER BY id LIMIT ?",
                    [self._last_id, LOAD_CHUNK],
                )
                if rows:
                    self._last_id = rows[-1]["id"]
                    self.broker.publish([Change.from_row(row) for row in rows])
                    continue
            except Exception:  # keep polling: the next round may succeed
                logger.exception("change poller failed")
            await asyncio.sleep(SQLITE_POLL_SECONDS)


@contextlib.asynccontextmanager
async def change_events(
    settings: Settings,
) -> AsyncIterator[tuple[Broker, "PostgresListener | SqlitePoller"]]:
    """Started by the app's lifespan: the broker and its source, stopped on shutdown."""
    broker = Broker(settings.subscriber_queue_size)
    source: PostgresListener | SqlitePoller
    if settings.is_postgres:
        source = PostgresListener(broker, asyncpg_dsn(settings.database_url))
    else:
        source = SqlitePoller(broker)
    task = asyncio.create_task(source.run())
    try:
        yield broker, source
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
