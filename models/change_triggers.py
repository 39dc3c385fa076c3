"""The change log's triggers, in one place that can be re-run (idempotent).

PostgreSQL: statement-level AFTER triggers with transition tables (one per event: transition
tables cannot serve several), so a set-based statement logs its rows in one INSERT ... SELECT,
stamped with the transaction id (xid8 as bigint) and announced with pg_notify (delivered at
commit, once per workspace and transaction) when some process watches the workspace (see
`WATCH_TABLE`). SQLite: row-level triggers; one writer at a time, so the id order is the commit
order.

A statement may write its own change-log rows instead (recordInteraction's, models/recording.py):
it sets `SELF_LOGGED` to its `statement_timestamp()` (`MARK_SELF_LOGGED`), and every PostgreSQL
trigger's WHEN clause then skips that statement's events, so no trigger function runs for it.
The mark is transaction-local and names the statement, so a later statement of the same
transaction is logged by the triggers as usual.

Migration 0009 installs them; `leadgraph migrate` installs them again after every migration run,
because SQLite table rebuilds (some ALTERs) drop a table's triggers.
"""

from tortoise.backends.base.client import BaseDBAsyncClient

RECORD_TABLES = ["account", "contact", "lead", "interaction", "scoring_model"]

# Workspaces that some process has subscribers of, until a time its listener keeps pushing
# forward (api/events.py). A transaction that notifies takes a database-wide lock at commit and
# holds it through its WAL flush, so every notifying commit waits for the one before it: with
# notifications for every write, recordInteraction cost PostgreSQL 0.3-0.6 ms more CPU and 10-30 %
# of its throughput. Writes to a workspace nobody watches now notify no one; a listener that
# starts watching sweeps the change log for what the watch may have missed.
WATCH_TABLE = (
    "CREATE TABLE IF NOT EXISTS change_watch "
    "(workspace_id integer PRIMARY KEY, until timestamptz NOT NULL)"
)


def watched(workspace: str) -> str:
    """SQL condition: some process watches `workspace` (an SQL expression) now. The triggers'
    notification and recordInteraction's own (models/recording.py) both use it."""
    return (
        f"EXISTS (SELECT FROM change_watch w WHERE w.workspace_id = {workspace} "
        "AND w.until > now())"
    )


# One payload per watched workspace and transaction (`workspace:txid`): PostgreSQL delivers
# identical payloads of one transaction once, so the tables a write touches cost one
# notification, not one per statement (recordInteraction: 3 -> 1), and every listening process
# wakes once.
PG_NOTIFY = f"""
  SELECT array_agg(d.workspace_id || ':' || d.txid) INTO payloads
    FROM (SELECT DISTINCT workspace_id, txid FROM ins) d
    WHERE {watched("d.workspace_id")};
  IF payloads IS NOT NULL THEN
    PERFORM pg_notify('leadgraph_changes', p) FROM unnest(payloads) AS p;
  END IF;
  RETURN NULL;
END $$;
"""
# Before migration 0014 (its downgrade puts it back): every write notified.
PG_NOTIFY_ALWAYS = """
  SELECT array_agg(DISTINCT workspace_id || ':' || txid) INTO payloads FROM ins;
  PERFORM pg_notify('leadgraph_changes', p) FROM unnest(payloads) AS p;
  RETURN NULL;
END $$;
"""


def pg_function(name, select, rows="new_rows", joins=False, notify=PG_NOTIFY):
    """A statement-level trigger function logging `select`. A statement that touched no row
    still fires it (an upsert fires both its INSERT and its UPDATE trigger; recordInteraction's
    statement writes four tables, most of them in no row): such a call returns at once, which
    cut PostgreSQL's CPU per recordInteraction by about a fifth.

    PL/pgSQL plans the statement once per session, with the transition tables' sizes of that
    first call. An UPDATE's old and new rows are joined by id: planned on a one-row update (as
    every recordInteraction makes), the join was a nested loop, and a later re-score of 150,109
    leads on the same pooled connection compared every pair of rows until the statement timeout
    cancelled it. Without nested loops (`joins`: the SELECT joins old and new rows) the join is
    hashed whatever size it was planned for."""
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        + ("SET enable_nestloop = off " if joins else "")
        + "AS $$\n"
        "DECLARE payloads text[];\nBEGIN\n"
        f"  IF NOT EXISTS (SELECT FROM {rows}) THEN RETURN NULL; END IF;\n"
        f"  WITH ins AS (INSERT INTO change_log ({LOG_COLUMNS})\n"
        f"    {select}\n    RETURNING workspace_id, txid)" + notify
    )


TX = "pg_current_xact_id()::text::bigint"
SELF_LOGGED = "leadgraph.self_logged"
MARK_SELF_LOGGED = f"set_config('{SELF_LOGGED}', statement_timestamp()::text, true)"
NOT_SELF_LOGGED = (
    f"current_setting('{SELF_LOGGED}', true) IS DISTINCT FROM statement_timestamp()::text"
)
LOG_COLUMNS = "workspace_id, txid, entity, kind, record_id, detail, at"
EVENT_DETAIL = (
    "jsonb_build_object('event', n.id, 'from', n.from_status, 'to', n.to_status, "
    "'reason', n.reason, 'api_key_name', n.api_key_name, 'at', n.at)"
)
SCORE_DETAIL = (
    "jsonb_build_object('model', n.model_id, 'score', n.score, 'previous', {previous}, "
    "'grade', n.grade, 'sales_ready', n.sales_ready, 'previous_sales_ready', {previous_ready})"
)
# (name, logged rows' SELECT[, transition table that must hold a row, joins old and new])
FUNCTIONS = [
    (
        "leadgraph_log_insert",
        f"SELECT n.workspace_id, {TX}, TG_TABLE_NAME, 'CREATED', n.id, NULL, now() FROM new_rows n",
    ),
    (
        "leadgraph_log_update",
        f"SELECT n.workspace_id, {TX}, TG_TABLE_NAME, 'UPDATED', n.id, NULL, now() "
        "FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n IS DISTINCT FROM o",
        "new_rows",
        True,
    ),
    (
        "leadgraph_log_delete",
        f"SELECT o.workspace_id, {TX}, TG_TABLE_NAME, 'DELETED', o.id, NULL, now() FROM old_rows o",
        "old_rows",
    ),
    (
        "leadgraph_log_score_insert",
        f"SELECT n.workspace_id, {TX}, 'lead_score', 'UPDATED', n.lead_id, "
        + SCORE_DETAIL.format(previous="NULL", previous_ready="NULL")
        + ", now() FROM new_rows n WHERE n.score <> 0 OR n.sales_ready",
    ),
    (
        "leadgraph_log_score_update",
        f"SELECT n.workspace_id, {TX}, 'lead_score', 'UPDATED', n.lead_id, "
        + SCORE_DETAIL.format(previous="o.score", previous_ready="o.sales_ready")
        + ", now() FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "WHERE n.score <> o.score OR n.grade IS DISTINCT FROM o.grade "
        "OR n.sales_ready <> o.sales_ready",
        "new_rows",
        True,
    ),
    (
        "leadgraph_log_status",
        f"SELECT n.workspace_id, {TX}, 'lead_event', 'CREATED', n.lead_id, {EVENT_DETAIL}, now() "
        "FROM new_rows n",
    ),
]
PG_FUNCTIONS = [pg_function(*f) for f in FUNCTIONS]


def pg_trigger(table, event, function):
    transition = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}.get(
        event, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    )
    return (
        f"CREATE OR REPLACE TRIGGER {table}_log_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT WHEN ({NOT_SELF_LOGGED}) "
        f"EXECUTE FUNCTION {function}()"
    )


PG_TRIGGERS = [
    pg_trigger(table, event, f"leadgraph_log_{event.lower()}")
    for table in RECORD_TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
] + [
    pg_trigger("lead_score", "INSERT", "leadgraph_log_score_insert"),
    pg_trigger("lead_score", "UPDATE", "leadgraph_log_score_update"),
    pg_trigger("lead_event", "INSERT", "leadgraph_log_status"),
]

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')"


def sqlite_trigger(name, event, table, when, values):
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} {when}BEGIN "
        "INSERT INTO change_log (workspace_id, txid, entity, kind, record_id, detail, at) "
        f"VALUES ({values}, {SQLITE_NOW}); END;"
    )


SQLITE_SCORE_DETAIL = (
    "json_object('model', NEW.model_id, 'score', NEW.score, 'previous', {previous}, "
    "'grade', NEW.grade, 'sales_ready', NEW.sales_ready, 'previous_sales_ready', {previous_ready})"
)
SQLITE_TRIGGERS = [
    sqlite_trigger(
        f"{table}_log_{event.lower()}",
        event,
        table,
        "",
        f"{row}.workspace_id, 0, '{table}', '{kind}', {row}.id, NULL",
    )
    for table in RECORD_TABLES
    for event, kind, row in (
        ("INSERT", "CREATED", "NEW"),
        ("UPDATE", "UPDATED", "NEW"),
        ("DELETE", "DELETED", "OLD"),
    )
] + [
    sqlite_trigger(
        "lead_score_log_insert",
        "INSERT",
        "lead_score",
        "WHEN NEW.score <> 0 OR NEW.sales_ready ",
        "NEW.workspace_id, 0, 'lead_score', 'UPDATED', NEW.lead_id, "
        + SQLITE_SCORE_DETAIL.format(previous="NULL", previous_ready="NULL"),
    ),
    sqlite_trigger(
        "lead_score_log_update",
        "UPDATE",
        "lead_score",
        "WHEN NEW.score IS NOT OLD.score OR NEW.grade IS NOT OLD.grade "
        "OR NEW.sales_ready IS NOT OLD.sales_ready ",
        "NEW.workspace_id, 0, 'lead_score', 'UPDATED', NEW.lead_id, "
        + SQLITE_SCORE_DETAIL.format(previous="OLD.score", previous_ready="OLD.sales_ready"),
    ),
    sqlite_trigger(
        "lead_event_log_insert",
        "INSERT",
        "lead_event",
        "",
        "NEW.workspace_id, 0, 'lead_event', 'CREATED', NEW.lead_id, json_object('event', NEW.id, "
        "'from', NEW.from_status, 'to', NEW.to_status, 'reason', NEW.reason, "
        "'api_key_name', NEW.api_key_name, 'at', NEW.at)",
    ),
]
TRIGGER_NAMES = [
    f"{table}_log_{event}" for table in RECORD_TABLES for event in ("insert", "update", "delete")
] + ["lead_score_log_insert", "lead_score_log_update", "lead_event_log_insert"]


def _postgres(client: BaseDBAsyncClient) -> bool:
    return client.capabilities.dialect == "postgres"


async def install(client: BaseDBAsyncClient, *, notify_always: bool = False) -> None:
    """Create (or replace) the index on `at`, the watch table (PostgreSQL), the functions and
    every trigger. `notify_always`: the functions as they were before migration 0014."""
    if _postgres(client):
        # BRIN: rows arrive in time order, and a B-tree would cost every logged row.
        await client.execute_script(
            "CREATE INDEX IF NOT EXISTS change_log_at ON change_log USING brin (at)"
        )
        await client.execute_script(WATCH_TABLE)
        functions = (
            [pg_function(*f, notify=PG_NOTIFY_ALWAYS) for f in FUNCTIONS]
            if notify_always
            else PG_FUNCTIONS
        )
        for sql in functions + PG_TRIGGERS:
            await client.execute_script(sql)
    else:
        await client.execute_script("CREATE INDEX IF NOT EXISTS change_log_at ON change_log (at)")
        for sql in SQLITE_TRIGGERS:
            await client.execute_script(sql)


async def remove(client: BaseDBAsyncClient) -> None:
    postgres = _postgres(client)
    for name in TRIGGER_NAMES:
        table = name.rsplit("_log_", 1)[0]
        on = f" ON {table}" if postgres else ""
        await client.execute_script(f"DROP TRIGGER IF EXISTS {name}{on}")
    await client.execute_script("DROP INDEX IF EXISTS change_log_at")
    if postgres:
        for name in ["insert", "update", "delete", "score_insert", "score_update", "status"]:
            await client.execute_script(f"DROP FUNCTION IF EXISTS leadgraph_log_{name}()")
        await client.execute_script("DROP TABLE IF EXISTS change_watch")


async def missing(client: BaseDBAsyncClient) -> list[str]:
    """Triggers that should exist and do not (e.g. after a SQLite table rebuild)."""
    if _postgres(client):
        rows = await client.execute_query_dict(
            "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal"
        )
    else:
        rows = await client.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        )
    present = {row["name"] for row in rows}
    return [name for name in TRIGGER_NAMES if name not in present]
