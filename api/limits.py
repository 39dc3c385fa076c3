"""Abuse limits that need more than strawberry ships: query cost and request body size."""

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.errors import ApiError


class QueryTooExpensive(ApiError):
    code = "QUERY_TOO_EXPENSIVE"


# Reporting fields (issue 11) count like a list of this many objects per parent: each scans
# every matching row (a stats query may return up to LEADGRAPH_MAX_REPORT_GROUPS groups), and
# a rollup is one batched aggregate per account. A cost rule per field name, kept apart so it
# carries over to a reworked limiter unchanged.
REPORT_FIELD_COSTS: dict[str, int] = {
    "leadStats": 1_000,
    "contactStats": 1_000,
    "interactionStats": 1_000,
    "leadFunnel": 1_000,
    "scoreHistogram": 1_000,
    "rollup": 10,
}


def _page_size(field: FieldNode, variables: dict[str, Any], default: int) -> int | None:
    """The page size a connection field asks for (None: not a paged field)."""
    names = {arg.name.value: arg.value for arg in field.arguments or ()}
    paged = {"first", "last"} & set(names)
    if not paged:
        return None
    node = names[paged.pop()]
    if isinstance(node, VariableNode):
        value = variables.get(node.name.value)
        return default if value is None else max(int(value), 0)
    if isinstance(node, IntValueNode):
        return max(int(node.value), 0)
    return default


def query_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    *,
    default_page_size: int,
    connection_fields: frozenset[str],
    multiplier: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    """How many objects a query may return: every paged list costs its page size times the
    number of parents it is fetched for (a `first: 100` inside a `first: 100` costs 10,000)."""
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            size = _page_size(selection, variables, default_page_size)
            if size is None and selection.name.value in connection_fields:
                size = default_page_size
            if size is None and selection.name.value in REPORT_FIELD_COSTS:
                size = REPORT_FIELD_COSTS[selection.name.value]
            inner = multiplier * size if size is not None else multiplier
            total += inner if size is not None else 0
            total += query_cost(
                selection.selection_set,
                fragments,
                variables,
                default_page_size=default_page_size,
                connection_fields=connection_fields,
                multiplier=inner,
                seen=seen,
            )
        elif isinstance(selection, InlineFragmentNode):
            total += query_cost(
                selection.selection_set,
                fragments,
                variables,
                default_page_size=default_page_size,
                connection_fields=connection_fields,
                multiplier=multiplier,
                seen=seen,
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += query_cost(
                    fragments[name].selection_set,
                    fragments,
                    variables,
                    default_page_size=default_page_size,
                    connection_fields=connection_fields,
                    multiplier=multiplier,
                    seen=seen | {name},
                )
    return total


def connection_field_names(schema) -> frozenset[str]:
    """Fields returning a `...Connection` type (they page even without `first`)."""
    names = set()
    for type_ in schema._schema.type_map.values():
        for name, field in (getattr(type_, "fields", None) or {}).items():
            of = field.type
            while hasattr(of, "of_type"):
                of = of.of_type
            if getattr(of, "name", "").endswith("Connection"):
                names.add(name)
    return frozenset(names)


def cost_limiter(max_cost: int, default_page_size: int):
    """A SchemaExtension class refusing operations whose cost exceeds `max_cost` before they
    run (variables are known by then, unlike in a cached validation rule)."""

    class QueryCostLimiter(SchemaExtension):
        connection_fields: frozenset[str] | None = None

        def on_execute(self) -> Iterator[None]:
            ctx = self.execution_context
            document = ctx.graphql_document
            if document is not None and ctx.result is None:
                if QueryCostLimiter.connection_fields is None:
                    QueryCostLimiter.connection_fields = connection_field_names(ctx.schema)
                fragments = {
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                }
                operations = [
                    d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                ]
                chosen = [
                    op
                    for op in operations
                    if ctx.operation_name is None
                    or (op.name and op.name.value == ctx.operation_name)
                ]
                cost = sum(
                    query_cost(
                        op.selection_set,
                        fragments,
                        ctx.variables or {},
                        default_page_size=default_page_size,
                        connection_fields=QueryCostLimiter.connection_fields,
                    )
                    for op in chosen[:1]
                )
                if cost > max_cost:
                    ctx.result = ExecutionResult(
                        data=None,
                        errors=[
                            QueryTooExpensive(
                                f"Query cost {cost} exceeds the limit of {max_cost} "
                                "(each paged list counts its page size times its parents)."
                            )
                        ],
                    )
            yield

    return QueryCostLimiter


class BodySizeLimit:
    """Refuses request bodies over `max_bytes` with HTTP 413 before anything reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            if refused:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"errors":[{"message":"Request body larger than '
            + str(self.max_bytes).encode()
            + b' bytes.","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class NulCharacters(ApiError):
    code = "BAD_USER_INPUT"


class RejectNulCharacters(SchemaExtension):
    """PostgreSQL cannot store U+0000 in text or JSON: refuse it up front with a clear error
    instead of failing half-way through a resolver."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        # A NUL gets into a string literal only through an escape such as \u0000 (a raw one is a
        # syntax error): walk the document only when its text has a \u escape at all.
        literals = (
            (node.value for node in _walk(document) if isinstance(node, StringValueNode))
            if document is not None and "\\u" in (ctx.query or "")
            else ()
        )
        if ctx.result is None and (
            _has_nul(ctx.variables or {}) or any("\x00" in v for v in literals)
        ):
            ctx.result = ExecutionResult(
                data=None,
                errors=[NulCharacters("Text must not contain the NUL character (U+0000).")],
            )
        yield


def _walk(node: Any) -> Iterator[Any]:
    """Every AST node below `node` (graphql-core nodes list their children in `keys`)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for key in getattr(current, "keys", ()):
            child = getattr(current, key, None)
            if isinstance(child, (list, tuple)):
                stack.extend(c for c in child if hasattr(c, "keys"))
            elif hasattr(child, "keys") and not isinstance(child, dict):
                stack.append(child)
