"""GET /export/{accounts,contacts,leads,interactions}.{csv,ndjson}: streamed exports for BI tools.

Authenticated, rate-limited and scoped like /graphql (the same `Authenticated` edge wraps it;
every role that may read may export; CAPTURE keys may not). `?filter=` is the JSON of the list's
filter input, checked and coerced by the GraphQL schema itself; `?search=` searches like the
list. A bad parameter is HTTP 400 with a JSON error body before anything streams. The rows come
from `resolvers.reports.exports`.

On PostgreSQL an export holds one pooled connection while it streams, so at most half the pool
(`LEADGRAPH_DB_POOL_MAX` / 2, at least 1) exports run at once per process; more is HTTP 429 with
`Retry-After`, and GraphQL requests always find a connection.
"""

from typing import Any

import orjson
from graphql import GraphQLError, Undefined, coerce_input_value, validate_input_value
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send
from strawberry.types.arguments import convert_argument

from api.auth import CanRead
from api.errors import ApiError
from models.sql import Sql, conjunction
from resolvers.reports.exports import EXPORTS, Export, csv_body, ndjson_body, rows

FORMATS = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


class BadExport(Exception):
    pass


def error_body(
    message: str, status: int, code: str = "BAD_USER_INPUT", headers: dict | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


def parse_filter(raw: str | None, export: Export, schema: Any) -> Any:
    """The `filter` parameter as the list's filter input, validated exactly as GraphQL would."""
    if raw is None or not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadExport("filter: not valid JSON.") from None
    definition = export.filter_type.__strawberry_definition__  # type: ignore[attr-defined]
    graphql_type = schema._schema.get_type(definition.name)
    problems: list[str] = []

    def on_error(error: GraphQLError, path: list) -> None:
        where = ".".join(str(p) for p in ["filter", *path])
        problems.append(f"{where}: {error.message}")

    validate_input_value(value, graphql_type, on_error)
    coerced = coerce_input_value(value, graphql_type) if not problems else Undefined
    if problems or coerced is Undefined:
        raise BadExport(problems[0] if problems else "filter: not a valid filter.")
    try:
        return convert_argument(
            coerced, export.filter_type, schema.schema_converter.scalar_registry, schema.config
        )
    except (GraphQLError, ValueError) as exc:  # e.g. an ID that is not a global ID
        message = exc.message if isinstance(exc, GraphQLError) else str(exc)
        raise BadExport(f"filter: {message}") from None


class ExportApp:
    """The ASGI endpoint behind `Authenticated` (which has put the principal in the scope)."""

    graphql_ide = None  # `Authenticated` asks; there is no GraphiQL page here

    def __init__(self, schema: Any, max_running: int) -> None:
        self.schema = schema
        self.max_running = max(1, max_running)
        self.running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        principal = scope["state"]["principal"]
        if principal.role not in CanRead.roles:  # publishable CAPTURE keys read nothing
            message = "Forbidden: exports need a role that may read."
            await error_body(message, 403, "FORBIDDEN")(scope, receive, send)
            return
        name, _, fmt = request.path_params["name"].partition(".")
        export = EXPORTS.get(name)
        if export is None or fmt not in FORMATS:
            message = "No such export: /export/{accounts,contacts,leads,interactions}.{csv,ndjson}"
            await error_body(message, 404, "NOT_FOUND")(scope, receive, send)
            return
        try:
            filter_ = parse_filter(request.query_params.get("filter"), export, self.schema)
            search = request.query_params.get("search")
            if search and export.search is None:
                raise BadExport(f"search: not available for {name}.")

            def where(q: Sql) -> str:
                return conjunction(
                    [
                        f"t.workspace_id = {q.param(principal.workspace_id)}",
                        export.condition(filter_, "t", q),
                        export.search(search, "t", q) if export.search else "",
                    ]
                )

            where(Sql(False))  # compiled once up front: an ID of the wrong type fails here
        except BadExport as exc:
            await error_body(str(exc), 400)(scope, receive, send)
            return
        except ApiError as exc:
            await error_body(exc.message, 400)(scope, receive, send)
            return
        if self.running >= self.max_running:
            message = f"{self.max_running} exports are already running; try again shortly."
            busy = error_body(message, 429, "TOO_MANY_EXPORTS", {"Retry-After": "5"})
            await busy(scope, receive, send)
            return
        self.running += 1
        try:
            chunks = rows(export, where, fmt)
            response = StreamingResponse(
                csv_body(export, chunks) if fmt == "csv" else ndjson_body(chunks),
                media_type=FORMATS[fmt],
                headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
            )
            await response(scope, receive, send)
        finally:
            self.running -= 1
