"""The PostgreSQL fast path: a whole read-only query compiled into one SQL statement that builds
the response JSON (nested `json_build_object`/`json_agg`), as SQL-compiling GraphQL engines do.

It covers the graph's core — the account/contact/lead lists and their nested connections,
to-one relations and scalar fields, with first/after, filters and orderBy — and declines
anything else (fragments, directives, `last`/`before`, scores, history, errors of any kind), which
then runs through strawberry as usual. Validation, depth, alias, token and cost limits have run
before it. The result is byte-for-byte the response strawberry would build (a test compares).
"""

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.types.arguments import convert_arguments

from api.errors import BadUserInput
from models.sql import Sql, conjunction
from resolvers.filtering import (
    account_condition,
    account_search,
    contact_condition,
    contact_search,
    interaction_condition,
    lead_condition,
    lead_search,
)
from resolvers.pagination import (
    PageArgs,
    SortKey,
    decode_cursor,
    keyset_condition,
    order_clause,
    page_size,
    sort_keys,
)


class Decline(Exception):
    """The query is outside the fast path; strawberry executes it."""


def _datetime(expr: str) -> str:
    """Python's isoformat() of a UTC timestamp: microseconds only when there are some."""
    utc = f"({expr} AT TIME ZONE 'UTC')"
    return (
        f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"date_part('microseconds', {utc})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || '+00:00')"
    )


def _global_id(type_name: str, expr: str) -> str:
    return f"encode(convert_to('{type_name}:' || {expr}, 'UTF8'), 'base64')"


@dataclass(frozen=True)
class Entity:
    type_name: str
    table: str
    scalars: dict[str, str]  # GraphQL field -> SQL expression over the alias `{t}`
    to_one: dict[str, tuple[str, str]]  # field -> (entity name, foreign key column)
    children: dict[str, str]  # connection field -> child list name


ENTITIES = {
    "Account": Entity(
        "Account",
        "account",
        {
            "name": "{t}.name",
            "industry": "{t}.industry",
            "website": "{t}.website",
            "city": "{t}.city",
            "country": "{t}.country",
            "numberOfEmployees": "{t}.number_of_employees",
            "annualRevenue": "{t}.annual_revenue",
            "createdAt": _datetime("{t}.created_at"),
            "updatedAt": _datetime("{t}.updated_at"),
        },
        {
            "parentAccount": ("Account", "parent_account_id"),
            "primaryContact": ("Contact", "primary_contact_id"),
        },
        {
            "childAccounts": "child_accounts",
            "contacts": "account_contacts",
            "leads": "account_leads",
        },
    ),
    "Contact": Entity(
        "Contact",
        "contact",
        {
            "firstName": "{t}.first_name",
            "lastName": "{t}.last_name",
            "email": "{t}.email",
            "phone": "{t}.phone",
            "jobTitle": "{t}.job_title",
            "fullName": "(CASE WHEN COALESCE({t}.first_name, '') <> '' "
            "THEN {t}.first_name || ' ' || {t}.last_name ELSE {t}.last_name END)",
            "createdAt": _datetime("{t}.created_at"),
            "updatedAt": _datetime("{t}.updated_at"),
        },
        {"account": ("Account", "account_id")},
        {"leads": "contact_leads", "interactions": "contact_interactions"},
    ),
    "Lead": Entity(
        "Lead",
        "lead",
        {
            "topic": "{t}.topic",
            "source": "{t}.source",
            "status": "{t}.status",
            "firstName": "{t}.first_name",
            "lastName": "{t}.last_name",
            "email": "{t}.email",
            "companyName": "{t}.company_name",
            "score": "{t}.score",
            "grade": "{t}.grade",
            "salesReady": "{t}.sales_ready",
            "createdAt": _datetime("{t}.created_at"),
            "updatedAt": _datetime("{t}.updated_at"),
        },
        {"contact": ("Contact", "contact_id"), "account": ("Account", "account_id")},
        {"interactions": "lead_interactions"},
    ),
    "Interaction": Entity(
        "Interaction",
        "interaction",
        {
            "type": "{t}.type",
            "occurredAt": _datetime("{t}.occurred_at"),
            "metadata": "{t}.metadata::json",
        },
        {"contact": ("Contact", "contact_id"), "lead": ("Lead", "lead_id")},
        {},
    ),
}
CONDITIONS = {
    "Account": account_condition,
    "Contact": contact_condition,
    "Lead": lead_condition,
    "Interaction": interaction_condition,
}
SEARCHES = {"Account": account_search, "Contact": contact_search, "Lead": lead_search}
NEWEST_FIRST = (SortKey("occurred_at", True, True), SortKey("id", True))
# child list -> (entity, source builder)
CHILDREN = {
    "child_accounts": ("Account", "parent_account_id"),
    "account_contacts": ("Contact", "account_id"),
    "account_leads": ("Lead", "account_id"),
    "contact_leads": ("Lead", "contact_id"),
    "contact_interactions": ("Interaction", "contact_id"),
    "lead_interactions": ("Interaction", None),
}
ROOTS = {"accounts": "Account", "contacts": "Contact", "leads": "Lead"}


MARKER = "lgalias"


def _retarget(sql: str) -> str:
    """SQL compiled for the alias MARKER, as a template that `.format(t=alias)` re-targets."""
    return sql.replace("{", "{{").replace("}", "}}").replace(f"{MARKER}.", "{t}.")


class Compiler:
    def __init__(self, schema, settings, workspace_id: int, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.settings = settings
        self.workspace_id = workspace_id
        self.variables = variables
        self.q = Sql(True)
        self._aliases = 0

    def alias(self) -> str:
        self._aliases += 1
        return f"f{self._aliases}"

    def arguments(self, parent_type: str, field: FieldNode) -> dict[str, Any]:
        graphql_type = self.schema._schema.get_type(parent_type)
        field_def = graphql_type.fields[field.name.value]
        raw = get_argument_values(field_def, field, self.variables)
        definition = field_def.extensions.get("strawberry-definition")
        return convert_arguments(
            raw,
            definition.arguments,
            self.schema.schema_converter.scalar_registry,
            self.schema.config,
        )

    @staticmethod
    def fields(node, type_name: str | None = None) -> list[FieldNode]:
        """The selected fields; inline fragments are merged when their type is `type_name`."""
        selections = node.selection_set.selections if node.selection_set else ()
        out = []
        for selection in selections:
            if selection.directives:
                raise Decline("directives run through strawberry")
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode) and type_name is not None:
                condition = (
                    selection.type_condition.name.value if selection.type_condition else None
                )
                if condition in (None, type_name, "Node"):
                    out.extend(Compiler.fields(selection, type_name))
            else:
                raise Decline("fragments run through strawberry")
        return out

    def json_object(self, pairs: list[tuple[str, str]]) -> str:
        if not pairs:
            return "json_build_object()"
        if len(pairs) > 50:
            raise Decline("too many fields for one json_build_object")
        return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def node(self, entity_name: str, node: FieldNode, t: str) -> str:
        entity = ENTITIES[entity_name]
        pairs = []
        for field in self.fields(node, entity_name):
            name, key = field.name.value, (field.alias or field.name).value
            if name == "id":
                pairs.append((key, _global_id(entity.type_name, f"{t}.id")))
            elif name == "__typename":
                pairs.append((key, f"'{entity.type_name}'"))
            elif name in entity.scalars:
                pairs.append((key, entity.scalars[name].format(t=t)))
            elif name in entity.to_one:
                target, column = entity.to_one[name]
                inner = self.alias()
                target_table = ENTITIES[target].table
                pairs.append(
                    (
                        key,
                        f"(SELECT {self.node(target, field, inner)} FROM {target_table} {inner} "
                        f"WHERE {inner}.id = {t}.{column})",
                    )
                )
            elif name in entity.children:
                pairs.append(
                    (key, self.child_connection(entity_name, entity.children[name], field, t))
                )
            else:
                raise Decline(f"{entity_name}.{name} runs through strawberry")
        return self.json_object(pairs)

    def page(
        self,
        args: PageArgs,
        keys,
        where: list[str],
        source: str,
        entity_name: str,
        field: FieldNode,
    ) -> str:
        """The connection JSON over `source` rows matching `where` (one page and its info)."""
        size = page_size(
            args, default=self.settings.default_page_size, maximum=self.settings.max_page_size
        )
        t = self.alias()
        conditions = [c.format(t=t) for c in where]
        if args.after is not None:
            conditions.append(keyset_condition(keys, decode_cursor(keys, args.after), t, self.q))
        rows = (
            f"(SELECT {t}.*, ROW_NUMBER() OVER (ORDER BY {order_clause(keys, t)}) AS lg_rn FROM "
            f"(SELECT {t}.* FROM {source} {t} WHERE {conjunction(conditions)} "
            f"ORDER BY {order_clause(keys, t)} LIMIT {int(size) + 1}) {t})"
        )
        p = self.alias()
        cursor = self.cursor(keys, p)
        pairs = []
        for part in self.fields(field):
            name, key = part.name.value, (part.alias or part.name).value
            if name == "edges":
                edge_pairs = []
                for edge_field in self.fields(part):
                    edge_name, edge_key = (
                        edge_field.name.value,
                        (edge_field.alias or edge_field.name).value,
                    )
                    if edge_name == "cursor":
                        edge_pairs.append((edge_key, cursor))
                    elif edge_name == "node":
                        edge_pairs.append((edge_key, self.node(entity_name, edge_field, p)))
                    else:
                        raise Decline("edge field")
                edge = self.json_object(edge_pairs)
                pairs.append(
                    (
                        key,
                        f"COALESCE(json_agg({edge} ORDER BY {p}.lg_rn) "
                        f"FILTER (WHERE {p}.lg_rn <= {int(size)}), '[]'::json)",
                    )
                )
            elif name == "pageInfo":
                info = []
                for info_field in self.fields(part):
                    info_name, info_key = (
                        info_field.name.value,
                        (info_field.alias or info_field.name).value,
                    )
                    if info_name == "hasNextPage":
                        info.append((info_key, f"(COUNT(*) > {int(size)})"))
                    elif info_name == "hasPreviousPage":
                        info.append((info_key, "TRUE" if args.after is not None else "FALSE"))
                    elif info_name in ("startCursor", "endCursor"):
                        direction = "" if info_name == "startCursor" else " DESC"
                        info.append(
                            (
                                info_key,
                                f"(array_agg({cursor} ORDER BY {p}.lg_rn{direction}) "
                                f"FILTER (WHERE {p}.lg_rn <= {int(size)}))[1]",
                            )
                        )
                    else:
                        raise Decline("pageInfo field")
                pairs.append((key, self.json_object(info)))
            elif name == "totalCount":
                c = self.alias()
                counted = [cond.format(t=c) for cond in where]
                pairs.append(
                    (key, f"(SELECT COUNT(*) FROM {source} {c} WHERE {conjunction(counted)})")
                )
            else:
                raise Decline("connection field")
        # GROUP BY () makes it one row even over no rows, whatever was selected.
        return f"(SELECT {self.json_object(pairs)} FROM {rows} {p} GROUP BY ())"

    def cursor(self, keys, t: str) -> str:
        """encode_cursor() in SQL: base64url, unpadded, of ["signature", [values...]]."""
        signature = ",".join(f"{k.column}:{'d' if k.descending else 'a'}" for k in keys)
        values = []
        for k in keys:
            expr = f"{t}.{k.column}"
            if k.is_datetime:
                value = f"('\"' || {_datetime(expr)} || '\"')"
            elif k.column in ("id", "score"):
                value = f"{expr}::text"
            else:
                value = f"to_json({expr})::text"
            values.append(f"COALESCE({value}, 'null')")
        json_text = f"'[\"{signature}\",[' || " + " || ',' || ".join(values) + " || ']]'"
        return (
            f"rtrim(translate(encode(convert_to({json_text}, 'UTF8'), 'base64'), "
            f"E'+/\\n', '-_'), '=')"
        )

    def child_connection(self, parent_type: str, child: str, field: FieldNode, parent: str) -> str:
        entity_name, parent_column = CHILDREN[child]
        kwargs = self.arguments(parent_type, field)
        args = PageArgs(first=kwargs.get("first"), after=kwargs.get("after"))
        default = NEWEST_FIRST if entity_name == "Interaction" else ()
        keys = sort_keys(kwargs.get("order_by"), default)
        ws = self.q.param(self.workspace_id)
        where = [f"{{t}}.workspace_id = {ws}"]
        condition = self.condition(entity_name, kwargs.get("filter"))
        if condition:
            where.append(condition)
        if parent_column is not None:
            where.append(f"{{t}}.{parent_column} = {parent}.id")
            source = ENTITIES[entity_name].table
        else:  # a lead's interactions: its own plus its contact's contact-level ones
            source = (
                f"(SELECT i.* FROM interaction i WHERE i.lead_id = {parent}.id UNION ALL "
                f"SELECT i.* FROM interaction i WHERE i.lead_id IS NULL "
                f"AND i.contact_id = {parent}.contact_id)"
            )
        return self.page(args, keys, where, source, entity_name, field)

    def condition(self, entity_name: str, filter_: Any) -> str:
        """The filter compiled with a placeholder alias, re-targeted per use via {t}."""
        if filter_ is None:
            return ""
        return _retarget(CONDITIONS[entity_name](filter_, MARKER, self.q))

    def node_by_id(self, field: FieldNode) -> str:
        """`node(id:)`: the object if it is in the caller's workspace, else null."""
        gid = self.arguments("Query", field)["id"]
        if gid.type_name not in ENTITIES or not gid.node_id.isdigit():
            return "NULL::json"
        entity = ENTITIES[gid.type_name]
        t = self.alias()
        return (
            f"(SELECT {self.node(gid.type_name, field, t)} FROM {entity.table} {t} "
            f"WHERE {t}.id = {self.q.param(int(gid.node_id))} "
            f"AND {t}.workspace_id = {self.q.param(self.workspace_id)})"
        )

    def root(self, field: FieldNode) -> str:
        name = field.name.value
        if name == "node":
            return self.node_by_id(field)
        if name not in ROOTS:
            raise Decline(f"Query.{name} runs through strawberry")
        entity_name = ROOTS[name]
        kwargs = self.arguments("Query", field)
        if kwargs.get("last") is not None or kwargs.get("before") is not None:
            raise Decline("backward pages run through strawberry")
        args = PageArgs(first=kwargs.get("first"), after=kwargs.get("after"))
        keys = sort_keys(kwargs.get("order_by"))
        where = [f"{{t}}.workspace_id = {self.q.param(self.workspace_id)}"]
        for part in (
            self.condition(entity_name, kwargs.get("filter")),
            self.search(entity_name, kwargs.get("search")),
        ):
            if part:
                where.append(part)
        return self.page(args, keys, where, ENTITIES[entity_name].table, entity_name, field)

    def search(self, entity_name: str, terms: str | None) -> str:
        if not terms or not terms.strip():
            return ""
        return _retarget(SEARCHES[entity_name](terms, MARKER, self.q))

    def operation(self, operation: OperationDefinitionNode) -> str:
        pairs = [((f.alias or f.name).value, self.root(f)) for f in self.fields(operation)]
        return f"SELECT {self.json_object(pairs)}::text AS data"


def compile_operation(schema, settings, workspace_id: int, document, operation_name, raw_variables):
    """(sql, params) for the operation, or None when it is outside the fast path."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(document.definitions) != len(operations):
        return None  # fragment definitions
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
        return None
    operation = chosen[0]
    if operation.directives:
        return None
    coerced = get_variable_values(
        schema._schema, operation.variable_definitions or (), raw_variables or {}
    )
    if isinstance(coerced, list):  # variable errors: strawberry reports them
        return None
    compiler = Compiler(schema, settings, workspace_id, coerced)
    try:
        return compiler.operation(operation), compiler.q.params
    except (Decline, BadUserInput, GraphQLError, KeyError, TypeError, ValueError):
        return None


def sql_fast_path(settings):
    """A SchemaExtension class that answers eligible queries with one PostgreSQL statement."""
    import orjson
    from graphql import ExecutionResult
    from strawberry.extensions import SchemaExtension

    from api import metrics
    from models.sql import connection, is_postgres

    class SqlFastPath(SchemaExtension):
        async def on_execute(self):
            ctx = self.execution_context
            principal = getattr(ctx.context, "principal", None)
            conn = connection()
            if ctx.result is None and principal is not None and is_postgres(conn):
                plan = compile_operation(
                    ctx.schema,
                    settings,
                    principal.workspace_id,
                    ctx.graphql_document,
                    ctx.operation_name,
                    ctx.variables,
                )
                metrics.fast_path(answered=plan is not None)
                if plan is not None:
                    sql, params = plan
                    rows = await conn.execute_query_dict(sql, params)
                    ctx.result = ExecutionResult(data=orjson.loads(rows[0]["data"]))
            yield

    return SqlFastPath
