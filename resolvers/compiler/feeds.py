"""`duplicates` and the delta-sync feed `changes`, compiled into the read statement.

Both take their rows from the resolvers' own SQL (`models.duplicates.duplicate_groups_sql`,
`models.changes.changes_sql`) and build the records' JSON with the compiler's entities, so a
record in a duplicate group or a change is written exactly as `node(id:)` writes it.

`changes` stays one statement on PostgreSQL: the resolver reads the horizon (the oldest running
transaction of the database) in a statement of its own before reading the log; here the horizon
comes from the statement's own snapshot (`models.changes.SNAPSHOT_HORIZON_SQL`, which says why
that never skips a change either). A sync token is checked while compiling (malformed: the
resolver's BAD_USER_INPUT; expired: SYNC_TOKEN_EXPIRED, both answered by strawberry), and its
expiry again by the statement against the database's clock, since a plan outlives the moment it
was compiled: a token that expired since falls back to strawberry, which reports
SYNC_TOKEN_EXPIRED. The next token is made by the statement too (base64url of
`[txid, id, unix time]`, as `Position.encode`).
"""

from datetime import UTC, datetime

from models.changes import SNAPSHOT_HORIZON_SQL, changes_sql
from models.duplicates import MAX_RECORDS_PER_GROUP, duplicate_groups_sql
from resolvers.changes import checked_first, entities_of, position_of
from resolvers.compiler.entities import ENTITIES
from resolvers.duplicates import checked

TYPE_OF_TABLE = {"contact": "Contact", "account": "Account"}
TYPE_OF_ENTITY = {
    "account": "Account",
    "contact": "Contact",
    "lead": "Lead",
    "interaction": "Interaction",
    "scoring_model": "ScoringModel",
}
SECONDS_PER_DAY = 86_400


def _json_ids(c, expr: str) -> str:
    """The ids in the JSON array `expr`, as a subquery for IN."""
    if c.dialect.name == "postgres":
        return f"SELECT value::text::bigint FROM json_array_elements({expr})"
    return f"SELECT value FROM json_each({expr})"


def duplicates(c, group: list) -> str:
    """Each group's records (lowest id first, at most 50) as the Contact or Account nodes."""
    kwargs = c.arguments("Query", group[0])
    table, first = checked(kwargs["type"], kwargs.get("first"))
    type_name = TYPE_OF_TABLE[table]
    groups = duplicate_groups_sql(c.q, c.workspace_id, table, first)
    u, v, w = c.alias(), c.alias(), c.alias()
    d = c.dialect

    def field(name: str, sub: list) -> str:
        if name == "reason":
            return d.scalar(f"{u}.reason")
        members = (
            f"SELECT * FROM (SELECT {v}.* FROM {table} {v} WHERE {v}.workspace_id = {c.ws} "
            f"AND {v}.id IN ({_json_ids(c, f'{u}.ids')}) ORDER BY {v}.id "
            f"LIMIT {MAX_RECORDS_PER_GROUP}) {v}"
        )
        return c.array(c.entity(type_name, sub, w), members, w, "id")

    item = c.object("DuplicateGroup", group, field)
    return c.array(item, f"SELECT * FROM ({groups}) {u}", u, "lowest, reason")


def _now_seconds(c) -> str:
    """The database's clock as Unix seconds (fractional)."""
    if c.dialect.name == "postgres":
        return "EXTRACT(EPOCH FROM now())"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def _token(c, txid: str, id_: str) -> str:
    """Position(txid, id, now).encode() in SQL, as a JSON string."""
    if c.dialect.name == "postgres":
        raw = (
            f"'[' || ({txid})::text || ',' || ({id_})::text || ',' || "
            "floor(EXTRACT(EPOCH FROM now()))::bigint::text || ']'"
        )
        return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"
    raw = (
        f"'[' || ({txid}) || ',' || ({id_}) || ',' || CAST(strftime('%s', 'now') AS INTEGER) || ']'"
    )
    return f"'\"' || lg_base64url({raw}) || '\"'"


def changes(c, group: list) -> str:
    """One page of the change feed: each record once at its latest change (CREATED when it was
    created in the page), DELETED when it no longer exists, as resolvers.changes.changes."""
    kwargs = c.arguments("Query", group[0])
    first = checked_first(kwargs.get("first"))
    since = kwargs.get("since")
    days = c.settings.change_retention_days
    position = position_of(since, days, datetime.now(UTC))
    entities = entities_of(kwargs.get("types"))
    postgres = c.dialect.name == "postgres"
    horizon = SNAPSHOT_HORIZON_SQL if postgres else None
    read = changes_sql(c.q, c.workspace_id, position, entities, first + 1, horizon)
    p = c.alias()
    page, latest = f"{p}_page", f"{p}_latest"
    same = "{a}.entity = {b}.entity AND {a}.record_id = {b}.record_id"
    alive = " ".join(
        f"WHEN '{e}' THEN EXISTS (SELECT 1 FROM {ENTITIES[TYPE_OF_ENTITY[e]].table} n "
        f"WHERE n.id = x.record_id AND n.workspace_id = {c.ws})"
        for e in entities
    )
    c.ctes.extend(
        [
            f"{p}_read AS ({read})",
            f"{page} AS (SELECT r.*, ROW_NUMBER() OVER (ORDER BY r.txid, r.id) AS pos "
            f"FROM {p}_read r)",
            f"{latest} AS (SELECT x.*, CASE WHEN NOT (CASE x.entity {alive} ELSE FALSE END) "
            "THEN 'DELETED' WHEN x.kind = 'UPDATED' AND EXISTS (SELECT 1 FROM "
            f"{page} y WHERE y.pos <= {first} AND {same.format(a='y', b='x')} "
            "AND y.kind = 'CREATED') THEN 'CREATED' ELSE x.kind END AS shown "
            f"FROM {page} x WHERE x.pos <= {first} AND NOT EXISTS (SELECT 1 FROM {page} z "
            f"WHERE z.pos <= {first} AND z.pos > x.pos AND {same.format(a='z', b='x')}))",
        ]
    )
    if since is not None:  # expired since it was compiled: strawberry says SYNC_TOKEN_EXPIRED
        issued = c.q.param(int(position.issued_at.timestamp()))
        c.fallbacks.append(f"{issued} < {_now_seconds(c)} - {int(days) * SECONDS_PER_DAY}")
    d = c.dialect
    u = c.alias()

    def per_entity(build) -> str:
        whens = " ".join(f"WHEN '{e}' THEN {build(e, TYPE_OF_ENTITY[e])}" for e in entities)
        return f"CASE {u}.entity {whens} END"

    def change_field(name: str, sub: list) -> str:
        if name == "kind":
            return d.scalar(f"{u}.shown")
        if name == "type":
            return d.scalar(f"UPPER({u}.entity)")
        if name == "id":
            return per_entity(lambda _, t: d.global_id(t, f"{u}.record_id"))
        if name == "at":
            if postgres:
                return d.scalar(d.datetime(f"{u}.at"))
            return f"json_quote(lg_isotime({u}.at))"

        def node(entity: str, type_name: str) -> str:
            n = c.alias()
            return (
                f"(SELECT {c.entity(type_name, sub, n)} FROM {ENTITIES[type_name].table} {n} "
                f"WHERE {n}.id = {u}.record_id AND {n}.workspace_id = {c.ws})"
            )

        return d.embed(per_entity(node))

    def field(name: str, sub: list) -> str:
        if name == "changes":
            rows = f"SELECT * FROM {latest}"
            return c.array(c.object("RecordChange", sub, change_field), rows, u, "pos")
        if name == "hasMore":
            return d.boolean(f"((SELECT COUNT(*) FROM {p}_read) > {first})")
        e = c.alias()
        ends = (
            f"SELECT {page}.txid, {page}.id, {page}.pos FROM {page} WHERE pos <= {first} "
            f"UNION ALL SELECT {c.q.typed(position.txid, 'bigint')}, "
            f"{c.q.typed(position.id, 'bigint')}, 0"
        )
        return (
            f"(SELECT {_token(c, f'{e}.txid', f'{e}.id')} FROM ({ends}) {e} "
            f"ORDER BY {e}.pos DESC LIMIT 1)"
        )

    return c.object("ChangeFeed", group, field)
