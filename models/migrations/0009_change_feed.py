from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index


# The change log's triggers. PostgreSQL: statement-level AFTER triggers with transition tables
# (one per event), so a set-based statement logs its rows in one INSERT ... SELECT, stamped
# with the transaction id (xid8 as bigint) and announced with pg_notify (delivered at commit).
# SQLite: row-level triggers; one writer at a time, so the id order is the commit order.
RECORD_TABLES = ["account", "contact", "lead", "interaction", "scoring_model"]

PG_NOTIFY = """
  SELECT array_agg(format('%s:%s:%s:%s', workspace_id, txid, lo, hi)) INTO payloads
  FROM (SELECT workspace_id, txid, min(id) AS lo, max(id) AS hi FROM ins
        GROUP BY workspace_id, txid) g;
  PERFORM pg_notify('leadgraph_changes', p) FROM unnest(payloads) AS p;
  RETURN NULL;
END $$;
"""


def pg_function(name, select):
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "DECLARE payloads text[];\nBEGIN\n"
        "  WITH ins AS (INSERT INTO change_log "
        "(workspace_id, txid, entity, kind, record_id, detail, at)\n"
        f"    {select}\n    RETURNING workspace_id, txid, id)" + PG_NOTIFY
    )


TX = "pg_current_xact_id()::text::bigint"
SCORE_DETAIL = (
    "jsonb_build_object('model', n.model_id, 'score', n.score, 'previous', {previous}, "
    "'grade', n.grade, 'sales_ready', n.sales_ready, 'previous_sales_ready', {previous_ready})"
)
PG_FUNCTIONS = [
    pg_function(
        "leadgraph_log_insert",
        f"SELECT n.workspace_id, {TX}, TG_TABLE_NAME, 'CREATED', n.id, NULL, now() "
        "FROM new_rows n",
    ),
    pg_function(
        "leadgraph_log_update",
        f"SELECT n.workspace_id, {TX}, TG_TABLE_NAME, 'UPDATED', n.id, NULL, now() "
        "FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n IS DISTINCT FROM o",
    ),
    pg_function(
        "leadgraph_log_delete",
        f"SELECT o.workspace_id, {TX}, TG_TABLE_NAME, 'DELETED', o.id, NULL, now() "
        "FROM old_rows o",
    ),
    pg_function(
        "leadgraph_log_score_insert",
        f"SELECT n.workspace_id, {TX}, 'lead_score', 'UPDATED', n.lead_id, "
        + SCORE_DETAIL.format(previous="NULL", previous_ready="NULL")
        + ", now() FROM new_rows n WHERE n.score <> 0 OR n.sales_ready",
    ),
    pg_function(
        "leadgraph_log_score_update",
        f"SELECT n.workspace_id, {TX}, 'lead_score', 'UPDATED', n.lead_id, "
        + SCORE_DETAIL.format(previous="o.score", previous_ready="o.sales_ready")
        + ", now() FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "WHERE n.score <> o.score OR n.grade IS DISTINCT FROM o.grade "
        "OR n.sales_ready <> o.sales_ready",
    ),
    pg_function(
        "leadgraph_log_status",
        f"SELECT n.workspace_id, {TX}, 'lead_event', 'CREATED', n.lead_id, "
        "jsonb_build_object('event', n.id, 'from', n.from_status, 'to', n.to_status, "
        "'reason', n.reason, 'api_key_name', n.api_key_name, 'at', n.at), now() "
        "FROM new_rows n",
    ),
]


def pg_trigger(table, event, function):
    transition = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}.get(
        event, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    )
    return (
        f"CREATE TRIGGER {table}_log_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
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
        f"CREATE TRIGGER {name} AFTER {event} ON {table} {when}BEGIN "
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
    f"{table}_log_{event}"
    for table in RECORD_TABLES
    for event in ("insert", "update", "delete")
] + ["lead_score_log_insert", "lead_score_log_update", "lead_event_log_insert"]


async def install_triggers(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        # BRIN: rows arrive in time order, and a B-tree would cost every logged row.
        await client.execute_script("CREATE INDEX change_log_at ON change_log USING brin (at)")
        for sql in PG_FUNCTIONS + PG_TRIGGERS:
            await client.execute_script(sql)
    else:
        await client.execute_script("CREATE INDEX change_log_at ON change_log (at)")
        for sql in SQLITE_TRIGGERS:
            await client.execute_script(sql)


async def remove_triggers(apps, schema_editor):
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for name in TRIGGER_NAMES:
        table = name.rsplit("_log_", 1)[0]
        on = f" ON {table}" if postgres else ""
        await client.execute_script(f"DROP TRIGGER IF EXISTS {name}{on}")
    await client.execute_script("DROP INDEX IF EXISTS change_log_at")
    if postgres:
        for name in ["insert", "update", "delete", "score_insert", "score_update", "status"]:
            await client.execute_script(f"DROP FUNCTION IF EXISTS leadgraph_log_{name}()")


class Migration(migrations.Migration):
    dependencies = [('models', '0005_rate_limit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChangeLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace_id', fields.IntField()),
                ('txid', fields.BigIntField(default=0)),
                ('entity', fields.CharField(max_length=16)),
                ('kind', fields.CharField(max_length=8)),
                ('record_id', fields.IntField()),
                ('detail', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'change_log', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'txid', 'id'])], 'pk_attr': 'id', 'table_description': 'One committed change, written by the database triggers of migration 0009.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersistedQuery',
            fields=[
                ('sha256', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('query', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'persisted_query', 'app': 'models', 'pk_attr': 'sha256', 'table_description': 'An automatic persisted query: the document stored under its SHA-256, for every process.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2000)),
                ('events', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('secret', fields.CharField(max_length=100)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('cursor_txid', fields.BigIntField(default=0)),
                ('cursor_id', fields.BigIntField(default=0)),
            ],
            options={'table': 'webhook', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An HTTPS endpoint that receives signed POSTs for the events it subscribed to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event_id', fields.CharField(max_length=64)),
                ('event', fields.CharField(max_length=24)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='PENDING', max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'unique_together': (('webhook', 'event_id'),), 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['webhook_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One event for one webhook, with every attempt counted.'},
            bases=['Model'],
        ),
        ops.RunPython(install_triggers, remove_triggers),
    ]
