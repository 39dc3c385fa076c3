"""The selection walker: a read operation -> one SQL statement that builds the response JSON.

Selections are resolved with graphql-core's own field collection (`collect_fields`,
`collect_subfields`), so named and inline fragments, fragments on interfaces and on `Node`,
`@skip`/`@include` and `__typename` mean here exactly what they mean to the executor.
What each type reads is in `entities.py`; pages in `pages.py`; scores in `scores.py`; SQL that
differs per database in `dialects.py`.
"""

from collections.abc import Callable
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLList,
    GraphQLNonNull,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import get_argument_values
from strawberry.relay import GlobalID
from strawberry.relay.types import GlobalIDValueError
from strawberry.types.arguments import convert_arguments

from models import Role
from models.sql import Sql
from resolvers.compiler import outcomes, reports, scores
from resolvers.compiler.entities import ENTITIES, NODE_TYPES, ROOT_LISTS, Children, ToOne
from resolvers.compiler.pages import Source, connection
from resolvers.pagination import PageArgs, page_size, sort_keys

MARKER = "lgalias"
MAX_NODE_ID = 2**31 - 1


def retarget(sql: str) -> str:
    """SQL compiled for the alias MARKER, as a template that `.format(t=alias)` re-targets."""
    return sql.replace("{", "{{").replace("}", "}}").replace(f"{MARKER}.", "{t}.")


class Compiler:
    def __init__(
        self,
        schema: Any,
        settings: Any,
        dialect: Any,
        *,
        workspace_id: int,
        role: Role,
        document: Any,
        operation: OperationDefinitionNode,
        variables: Any,
    ) -> None:
        self.schema = schema
        self.graphql_schema = schema._schema
        self.settings = settings
        self.dialect = dialect
        self.role = role
        self.operation = operation
        self.variables = variables
        self.fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        if any(f.definition.variable_definitions for f in self.fragments.values()):
            raise outcomes.Decline(outcomes.FRAGMENT_VARIABLES)
        self.q = Sql(dialect.name == "postgres")
        self.workspace_id = workspace_id
        self._ws: str | None = None
        self._aliases = 0
        # Common table expressions the statement starts with, and conditions (over them) under
        # which its answer would be a client error: then strawberry answers (reports.py).
        self.ctes: list[str] = []
        self.fallbacks: list[str] = []
        self.explains = False  # a contribution's `reason` is selected (scores.explain)

    @property
    def ws(self) -> str:
        """The caller's workspace as a parameter, bound once and only if used."""
        if self._ws is None:
            self._ws = self.q.param(self.workspace_id)
        return self._ws

    # --- selections -------------------------------------------------------------------

    def alias(self) -> str:
        self._aliases += 1
        return f"f{self._aliases}"

    def subfields(self, type_name: str, field_details: list[FieldDetails]) -> dict[str, list]:
        collected = collect_subfields(
            self.graphql_schema,
            self.fragments,
            self.variables,
            self.operation,
            self.graphql_schema.get_type(type_name),
            field_details,
        )
        if collected.new_defer_usages:
            raise outcomes.Decline(outcomes.DEFER)
        return collected.grouped_field_set

    def object(
        self,
        type_name: str,
        field_details: list[FieldDetails],
        field_sql: Callable[[str, list[FieldDetails]], str],
    ) -> str:
        """The JSON object of one `type_name` value: each response key -> its SQL."""
        pairs = []
        for key, group in self.subfields(type_name, field_details).items():
            name = group[0].node.name.value
            if name == "__typename":
                pairs.append((key, self.dialect.text(type_name)))
            else:
                pairs.append((key, field_sql(name, group)))
        return self.dialect.json_object(pairs)

    def field_type(self, type_name: str, field_name: str) -> str:
        """The named type a field returns (lists and non-null unwrapped)."""
        of = self.graphql_schema.get_type(type_name).fields[field_name].type
        while isinstance(of, (GraphQLNonNull, GraphQLList)):
            of = of.of_type
        return of.name

    def arguments(self, type_name: str, details: FieldDetails) -> dict[str, Any]:
        field_def = self.graphql_schema.get_type(type_name).fields[details.node.name.value]
        raw = get_argument_values(
            field_def, details.node, self.variables, details.fragment_variable_values
        )
        definition = field_def.extensions.get("strawberry-definition")
        return convert_arguments(
            raw,
            definition.arguments,
            self.schema.schema_converter.scalar_registry,
            self.schema.config,
        )

    # --- objects ----------------------------------------------------------------------

    def entity(self, type_name: str, field_details: list[FieldDetails], t: str) -> str:
        """The JSON of the row aliased `t` as a `type_name`."""
        entity = ENTITIES[type_name]
        d = self.dialect

        def field_sql(name: str, group: list[FieldDetails]) -> str:
            if name == "id":
                return d.global_id(type_name, f"{t}.id")
            if name in entity.scalars:
                return entity.scalars[name].sql(t, d)
            if name in entity.to_one:
                return self.to_one(entity.to_one[name], group, t)
            if name in entity.children:
                return self.children(type_name, entity.children[name], group, t)
            if name in entity.lists:
                spec = entity.lists[name]
                u = self.alias()
                rows = (
                    f"SELECT {u}.* FROM {ENTITIES[spec.target].table} {u} WHERE "
                    f"{u}.{spec.parent_column} = {t}.id AND {u}.workspace_id = {self.ws}"
                )
                return self.array(self.entity(spec.target, group, u), rows, u, spec.order)
            if name in entity.computed:
                return scores.field(self, type_name, name, group, t)
            raise outcomes.Decline(f"{type_name}.{name} is not compiled")

        return self.object(type_name, field_details, field_sql)

    def array(self, item: str, rows: str, alias: str, order: str) -> str:
        """A JSON array of `item` over the rows of the SELECT `rows` (aliased `alias`)."""
        rows = f"{rows}{self.dialect.rows_in_order(order)}"
        return f"(SELECT {self.dialect.agg(item, order)} FROM ({rows}) {alias})"

    def to_one(self, relation: ToOne, group: list[FieldDetails], t: str) -> str:
        target = ENTITIES[relation.target]
        u = self.alias()
        if relation.reverse:
            link = f"{u}.{relation.column} = {t}.id ORDER BY {u}.id LIMIT 1"
        else:
            link = f"{u}.id = {t}.{relation.column}"
        return self.dialect.embed(
            f"(SELECT {self.entity(relation.target, group, u)} FROM {target.table} {u} "
            f"WHERE {u}.workspace_id = {self.ws} AND {link})"
        )

    def condition(self, type_name: str, filter_: Any) -> list[str]:
        if filter_ is None:
            return []
        self.q.workspace = self.ws
        return [retarget(ENTITIES[type_name].condition(filter_, MARKER, self.q))]

    def page(self, args: PageArgs) -> int:
        return page_size(
            args, default=self.settings.default_page_size, maximum=self.settings.max_page_size
        )

    def children(
        self, parent_type: str, spec: Children, group: list[FieldDetails], parent: str
    ) -> str:
        kwargs = self.arguments(parent_type, group[0])
        args = PageArgs(first=kwargs.get("first"), after=kwargs.get("after"))
        keys = sort_keys(kwargs.get("order_by"), spec.default_order)
        where = [
            f"{{t}}.workspace_id = {self.ws}",
            *self.condition(spec.target, kwargs.get("filter")),
        ]
        if spec.parent_column is not None:
            branches = [f"{{t}}.{spec.parent_column} = {parent}.id"]
        else:  # a lead's interactions: its own plus its contact's contact-level ones
            branches = [
                f"{{t}}.lead_id = {parent}.id",
                f"{{t}}.lead_id IS NULL AND {{t}}.contact_id = {parent}.contact_id",
            ]
        source = Source(ENTITIES[spec.target].table, where, branches)
        connection_type = self.field_type(parent_type, group[0].node.name.value)
        size = self.page(args)
        return connection(self, connection_type, spec.target, group, source, keys, args, size)

    # --- the root ---------------------------------------------------------------------

    def root_list(self, name: str, group: list[FieldDetails]) -> str:
        type_name = ROOT_LISTS[name]
        entity = ENTITIES[type_name]
        kwargs = self.arguments("Query", group[0])
        args = PageArgs(
            first=kwargs.get("first"),
            after=kwargs.get("after"),
            last=kwargs.get("last"),
            before=kwargs.get("before"),
        )
        keys = sort_keys(kwargs.get("order_by"))
        where = [
            f"{{t}}.workspace_id = {self.ws}",
            *self.condition(type_name, kwargs.get("filter")),
        ]
        terms = kwargs.get("search")
        if terms and terms.strip():
            where.append(retarget(entity.search(terms, MARKER, self.q)))
        size = self.page(args)
        source = Source(entity.table, where, [])
        connection_type = self.field_type("Query", name)
        return connection(self, connection_type, type_name, group, source, keys, args, size)

    @staticmethod
    def global_id(raw: Any) -> Any:
        """An ID of `nodes(ids:)` (plain strings there, so that a malformed one nulls only its
        own entry): strawberry reports a malformed one at its index."""
        if isinstance(raw, GlobalID):
            return raw
        try:
            return GlobalID.from_id(raw)
        except GlobalIDValueError:
            raise outcomes.Decline(outcomes.USER_ERROR) from None

    def node(self, gid: Any, group: list[FieldDetails]) -> str:
        """`node(id:)`: the object if it is in the caller's workspace, else null."""
        node_id = gid.node_id
        nothing = self.dialect.embed("NULL")  # SQLite: a NULL would void the whole text
        if gid.type_name not in NODE_TYPES or not (node_id.isascii() and node_id.isdigit()):
            return nothing
        if int(node_id) > MAX_NODE_ID:
            return nothing
        t = self.alias()
        return self.dialect.embed(
            f"(SELECT {self.entity(gid.type_name, group, t)} "
            f"FROM {ENTITIES[gid.type_name].table} {t} "
            f"WHERE {t}.id = {self.q.param(int(node_id))} AND {t}.workspace_id = {self.ws})"
        )

    def workspace_list(self, type_name: str, group: list[FieldDetails]) -> str:
        t = self.alias()
        rows = (
            f"SELECT {t}.* FROM {ENTITIES[type_name].table} {t} WHERE {t}.workspace_id = {self.ws}"
        )
        return self.array(self.entity(type_name, group, t), rows, t, "id")

    def check_permissions(self, name: str) -> None:
        """The root field's permission classes, as strawberry would apply them: role-based ones
        are decided here; any other kind is left to strawberry."""
        field_def = self.graphql_schema.query_type.fields[name]
        definition = field_def.extensions.get("strawberry-definition")
        for permission in getattr(definition, "permission_classes", None) or ():
            roles = getattr(permission, "roles", None)
            if roles is None or self.role not in roles:
                raise outcomes.Decline(outcomes.FORBIDDEN)

    def root_field(self, name: str, group: list[FieldDetails]) -> str:
        if not name.startswith("__"):
            self.check_permissions(name)
        if name in ROOT_LISTS:
            return self.root_list(name, group)
        if name == "node":
            return self.node(self.arguments("Query", group[0])["id"], group)
        if name == "nodes":
            ids = [self.global_id(raw) for raw in self.arguments("Query", group[0])["ids"]]
            return (
                self.dialect.json_array([self.node(gid, group) for gid in ids])
                if ids
                else (self.dialect.json_array([]))
            )
        if name == "scoringModels":
            return self.workspace_list("ScoringModel", group)
        if name == "apiKeys":  # ADMIN only: its IsAdmin permission, checked above
            return self.workspace_list("ApiKey", group)
        if name == "webhooks":  # ADMIN only, like apiKeys
            return self.workspace_list("Webhook", group)
        if name == "previewScoringModel":
            raise outcomes.Decline(outcomes.PREVIEW)
        if name in reports.ROOTS:
            return reports.ROOTS[name](self, group)
        if name.startswith("__"):
            raise outcomes.Decline(outcomes.INTROSPECTION)
        raise outcomes.Decline(f"Query.{name} is not compiled")

    def operation_sql(self) -> str:
        query_type = self.graphql_schema.query_type
        collected = collect_fields(
            self.graphql_schema, self.fragments, self.variables, query_type, self.operation
        )
        if collected.new_defer_usages:
            raise outcomes.Decline(outcomes.DEFER)
        pairs = []
        for key, group in collected.grouped_field_set.items():
            name = group[0].node.name.value
            if name == "__typename":
                pairs.append((key, self.dialect.text("Query")))
            else:
                pairs.append((key, self.root_field(name, group)))
        sql = f"SELECT {self.dialect.text_of(self.dialect.json_object(pairs))} AS data"
        if self.fallbacks:
            checks = " OR ".join(f"({c})" for c in self.fallbacks)
            sql += f", CASE WHEN {checks} THEN 1 ELSE 0 END AS {outcomes.FALLBACK_COLUMN}"
        if self.ctes:
            sql = f"WITH RECURSIVE {', '.join(self.ctes)} {sql}"
        return sql
