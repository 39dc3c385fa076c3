"""The change log (transactional outbox): one row per committed change, written by triggers.

Database triggers (installed by migration 0009) write the rows in the same transaction as the
change, so every writer, a cascade or a set-based re-score included, is logged without any
resolver knowing, and a rollback logs nothing. One statement writes its own rows instead and the
triggers skip it: recordInteraction's on PostgreSQL (models/recording.py: `change_log`).
On PostgreSQL each row carries the writing transaction's id (`pg_current_xact_id()`, an xid8
kept as bigint); readers only read below the oldest running transaction (`pg_snapshot_xmin`),
so transactions that commit out of order are never skipped. On SQLite one writer runs at a
time and `txid` is 0: the id order is the commit order.
"""

import base64
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.indexes import Index
from tortoise.models import Model

from models.sql import Sql, is_postgres, parse_datetime, parse_json

# Tables whose rows are records a client can sync, by the `entity` the triggers write.
RECORD_ENTITIES = ("account", "contact", "lead", "interaction", "scoring_model")
SCORE_ENTITY = "lead_score"  # record_id = lead id; detail: model, score, previous, grade, ready
STATUS_ENTITY = "lead_event"  # record_id = lead id; detail: event, from, to, at, reason, key
NOTIFY_CHANNEL = "leadgraph_changes"
# The oldest transaction of THIS database still running, as an xid8: every writer of the log
# with a smaller id has finished. pg_snapshot_xmin() would be the whole cluster's horizon, which
# any long transaction in another database holds back. Read in its own statement, BEFORE the
# statement that reads the log: a transaction running then is excluded by its id; one that
# finished then is visible to the later statement's snapshot; one that starts later gets an id
# >= xmax. backend_xid is 32 bits: it is widened with xmax's epoch (a running xid is always
# within 2^31 of xmax).
HORIZON_SQL = (
    "WITH cur AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax), "
    "running AS (SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL) "
    "SELECT LEAST(cur.xmax, MIN(CASE WHEN ((cur.xmax >> 32) << 32) + r.xid > cur.xmax "
    "THEN ((cur.xmax >> 32) << 32) + r.xid - 4294967296 "
    "ELSE ((cur.xmax >> 32) << 32) + r.xid END)) AS horizon "
    "FROM cur LEFT JOIN running r ON TRUE GROUP BY cur.xmax"
)
# The same horizon inside the statement that reads the log, for a read that must be one
# statement (the read compiler): reading pg_stat_activity there would be too late (a transaction
# running when the statement's snapshot was taken may have finished since, and its rows are
# invisible to that snapshot), so the horizon is taken from the snapshot itself: the oldest of
# its in-progress transactions (pg_snapshot_xip), else its xmax. Only transactions seen running
# in ANOTHER database are left out (they cannot write this log): one that finished in between,
# a prepared one or one hidden from this role keeps the horizon low, so a change is only ever
# read later, never skipped. xip values are xid8; backend_xid their low 32 bits.
SNAPSHOT_HORIZON_SQL = (
    "(SELECT LEAST(pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
    "(SELECT MIN(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) x "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname <> current_database() "
    "AND a.backend_xid::text::bigint = (x::text::bigint & 4294967295)))))"
)
# True in the change feed's background tasks (listener, poller, webhook dispatcher): their SQL
# is not a request's, and the tests' statement counter leaves it out.
background: ContextVar[bool] = ContextVar("change_feed_background", default=False)


class ChangeLog(Model):
    """One committed change, written by the database triggers of migration 0009."""

    id = fields.BigIntField(primary_key=True)
    workspace_id = fields.IntField()
    txid = fields.BigIntField(default=0)
    entity = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=8)
    record_id = fields.IntField()
    detail = fields.JSONField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "change_log"
        # Readers go by workspace in (txid, id) order. Pruning by `at` uses an index that
        # migration 0009 creates itself (BRIN on PostgreSQL: rows arrive in time order).
        indexes = (Index(fields=("workspace_id", "txid", "id")),)


@dataclass(frozen=True)
class Change:
    id: int
    workspace_id: int
    txid: int
    entity: str
    kind: str
    record_id: int
    detail: dict | None
    at: datetime

    @classmethod
    def from_row(cls, row: dict) -> "Change":
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            txid=row["txid"],
            entity=row["entity"],
            kind=row["kind"],
            record_id=row["record_id"],
            detail=parse_json(row["detail"]),
            at=parse_datetime(row["at"]),
        )


COLUMNS = "id, workspace_id, txid, entity, kind, record_id, detail, at"


class TokenExpired(Exception):
    pass


class BadToken(Exception):
    pass


@dataclass(frozen=True)
class Position:
    """Where a sync stands: everything up to (txid, id) was delivered, as of `issued_at`."""

    txid: int
    id: int
    issued_at: datetime

    def encode(self) -> str:
        raw = orjson.dumps([self.txid, self.id, int(self.issued_at.timestamp())])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, retention: timedelta, now: datetime) -> "Position":
        try:
            padded = token + "=" * (-len(token) % 4)
            txid, id_, issued = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
            position = cls(int(txid), int(id_), datetime.fromtimestamp(int(issued), UTC))
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            raise BadToken("The sync token is not one this server issued.") from exc
        if position.issued_at < now - retention:
            raise TokenExpired(
                "The sync token is older than the change log's retention; sync again from null."
            )
        return position


START = Position(0, 0, datetime.fromtimestamp(0, UTC))


async def current_horizon(conn: BaseDBAsyncClient) -> int:
    """PostgreSQL: log rows with a smaller txid are final (committed or never will be)."""
    rows = await conn.execute_query_dict(HORIZON_SQL)
    return rows[0]["horizon"]


def changes_sql(
    q: Sql,
    workspace_id: int,
    after: Position,
    entities: list[str],
    limit: int,
    horizon: str | None,
) -> str:
    """SELECT of the changes after `after`, in (txid, id) order; on PostgreSQL only those with
    a txid below the SQL expression `horizon` (HORIZON_SQL's value, or SNAPSHOT_HORIZON_SQL)."""
    below = f"AND c.txid < {horizon} " if horizon is not None else ""
    return (
        f"SELECT {COLUMNS} FROM change_log c WHERE c.workspace_id = {q.param(workspace_id)} "
        f"AND (c.txid > {q.param(after.txid)} OR (c.txid = {q.param(after.txid)} "
        f"AND c.id > {q.param(after.id)})) {below}"
        f"AND {q.in_list('c.entity', entities)} ORDER BY c.txid, c.id LIMIT {int(limit)}"
    )


async def read_changes(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    after: Position,
    entities: list[str],
    limit: int,
) -> list[Change]:
    """Changes after `after`, in (txid, id) order, only from finished transactions."""
    q = Sql(is_postgres(conn))
    horizon = q.param(await current_horizon(conn)) if q.postgres else None
    rows = await conn.execute_query_dict(
        changes_sql(q, workspace_id, after, entities, limit, horizon), q.params
    )
    return [Change.from_row(row) for row in rows]


async def changes_by_ids(conn: BaseDBAsyncClient, ids: list[int]) -> list[Change]:
    q = Sql(is_postgres(conn))
    rows = await conn.execute_query_dict(
        f"SELECT {COLUMNS} FROM change_log WHERE {q.in_list('id', ids)} ORDER BY id", q.params
    )
    return [Change.from_row(row) for row in rows]


async def prune(conn: BaseDBAsyncClient, retention: timedelta, now: datetime) -> None:
    """Delete change rows older than the retention."""
    q = Sql(is_postgres(conn))
    await conn.execute_query(
        f"DELETE FROM change_log WHERE at < {q.param(now - retention)}", q.params
    )
