"""create_app(settings) -> the Starlette application; `app` for uvicorn."""

import asyncio
import contextlib
import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.migrations.executor import MigrationExecutor

from api import graphiql, metrics
from api.auth import ApiKeyAuthenticator, TokenVerifier
from api.body import JsonRequestGuard, read_body, replay
from api.capture import CaptureEdge, CapturePreflight
from api.compression import GZip
from api.context import Context, request_id
from api.dispatcher import webhook_dispatcher
from api.errors import is_database_outage
from api.events import change_events
from api.export import ExportApp
from api.limits import BodySizeLimit
from api.persisted_queries import PersistedQueries, QueryStore
from api.ratelimit import RateLimiter, counters_for
from api.schema import build_schema
from api.settings import Settings
from api.subscriptions import WebSocketAuth
from models import Role, time_budget
from models.capture import expire_visits_periodically
from models.periodic import run_periodically
from resolvers import recording_lane
from resolvers.compiler import answer_repeat

logger = logging.getLogger("leadgraph")
GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"
# Set per request by the edge: the client accepts application/graphql-response+json.
wants_graphql_response: ContextVar[bool] = ContextVar("wants_graphql_response", default=False)


class NotMigrated(RuntimeError):
    pass


async def pending_migrations(settings: Settings) -> list[str]:
    apps = settings.tortoise_config()["apps"]
    executor = MigrationExecutor(connections.get("default"), apps)
    return [f"{step.migration.app_label}.{step.migration.name}" for step in await executor.plan()]


# What strawberry's get_sub_response starts from (no status, no headers): a repeat sets nothing
# on it, and create_response only reads it, so one instance serves every repeat.
NO_SUB_RESPONSE = Response()
NO_SUB_RESPONSE.status_code = None  # type: ignore[assignment]
del NO_SUB_RESPONSE.headers["content-length"]


def observe(operation: str, outcome: str) -> None:
    """What api.metrics.OperationObserver tells the edge, for an answer without strawberry."""
    observation = metrics.current.get()
    if observation is not None:
        observation.operation = operation
        observation.outcome = outcome


class GraphQLView(WebSocketAuth, GraphQL):
    """Strawberry's ASGI view with our context and orjson encoding."""

    def __init__(self, settings: Settings, ide_headers: dict[str, str] | None = None) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.ide_headers = ide_headers

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: assets served from the package, a hint on the API key."""
        return graphiql.page(self.ide_headers)

    async def get_context(self, request, response) -> Context:  # type: ignore[override]
        # Absent only when the GraphiQL page is served, which executes nothing.
        principal = request.scope.get("state", {}).get("principal")
        return Context(
            request=request,
            response=response,
            principal=principal,
            settings=self.settings,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POSTed exact repeat of a read that passed every check and compiled is answered
        from its plan here, before strawberry's request handling (content negotiation,
        context, loaders, result processing), which cost more CPU than the rest of such a
        request; anything else, or anything unusual about it, goes to strawberry."""
        if scope["type"] == "http" and scope["method"] == "POST":
            body = await read_body(receive)
            receive = replay(body, receive)
            response = await self.repeat_response(scope, body)
            if response is not None:
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def repeat_response(self, scope: Scope, body: bytes) -> Response | None:
        principal = scope.get("state", {}).get("principal")
        if principal is None:
            return None
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        accept = headers.get("accept", "")
        if content_type != "application/json" or "multipart" in accept or "event-stream" in accept:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict):
            return None
        query, variables = payload.get("query"), payload.get("variables")
        name, extensions = payload.get("operationName"), payload.get("extensions")
        if (
            not isinstance(query, str)
            or not isinstance(variables, dict | None)
            or not isinstance(name, str | None)
            or not isinstance(extensions, dict | None)
        ):
            return None
        request_data = GraphQLRequestData(query, variables, name, extensions)
        result = await answer_repeat(self.schema, request_data, principal)
        if result is not None:
            return self.create_response({"data": result.data}, NO_SUB_RESPONSE)
        scope["state"]["repeat_tried"] = True  # execute_single need not look again
        try:
            recorded = await recording_lane.answer(
                self.schema, self.settings, request_data, principal
            )
        except recording_lane.Uncertain as failed:  # reported as execution reports it
            response = self.schema.field_error_result(failed.error, failed.node, failed.key)
            observe(failed.operation_name, "error")
            return self.create_response(response, NO_SUB_RESPONSE)
        if recorded is None:
            return None
        observe(recorded.operation_name, "ok")
        return self.create_response({"data": recorded.data}, NO_SUB_RESPONSE)

    async def execute_single(  # type: ignore[override]
        self, request, request_adapter, sub_response, context, root_value, request_data
    ):
        """An exact repeat of a read that passed every check and compiled is answered from its
        plan without strawberry's pipeline (resolvers/compiler: answer_repeat), unless __call__
        has already looked (a JSON POST)."""
        if not request.scope.get("state", {}).get("repeat_tried"):
            result = await answer_repeat(self.schema, request_data, context.principal)
            if result is not None:
                return result
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )

    def create_response(self, response_data, sub_response):  # type: ignore[override]
        """GraphQL over HTTP: answer `application/graphql-response+json` to clients that accept it,
        with 400 and no `data` for request errors (parsing, validation, variables, cost)."""
        response = super().create_response(response_data, sub_response)
        if not wants_graphql_response.get() or not isinstance(response_data, dict):
            return response
        errors = response_data.get("errors") or []
        is_request_error = (
            response_data.get("data") is None and errors and all("path" not in e for e in errors)
        )
        if is_request_error:
            response.body = self.encode_json(
                {k: v for k, v in response_data.items() if k != "data"}
            )
            response.headers["content-length"] = str(len(response.body))
            if response.status_code == 200:
                response.status_code = 400
        response.headers["content-type"] = GRAPHQL_RESPONSE
        return response


UNAVAILABLE = "The database is unavailable; try again shortly."


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def unauthenticated(message: str) -> JSONResponse:
    return error_response(401, "UNAUTHENTICATED", message, {"WWW-Authenticate": "Bearer"})


class Authenticated:
    """Resolves the bearer key before GraphQL runs; no key or a bad one is HTTP 401.

    A browser asking for the GraphiQL page (GET, HTML, no query) gets it without a key."""

    def __init__(
        self,
        app: GraphQLView,
        authenticator: ApiKeyAuthenticator,
        limiter: RateLimiter | None,
        capture: CaptureEdge,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limiter = limiter
        self.capture = capture

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        token = request_id.set(
            request.headers.get("x-request-id")
            or (request_id.get() if request_id.get() != "-" else uuid.uuid4().hex)
        )
        accepts = wants_graphql_response.set(
            "application/graphql-response+json" in request.headers.get("accept", "")
        )
        try:
            if not self._wants_ide(request):
                header = request.headers.get("authorization")
                try:
                    principal = await self.authenticator.authenticate(header)
                    if principal is not None and principal.role is Role.CAPTURE:
                        refusal = await self.capture.refusal(principal, request)
                        if refusal is not None:
                            await refusal(scope, receive, send)
                            return
                        send = self.capture.with_cors(principal, request, send)
                    verdict = (
                        await self.limiter.hit(
                            principal.subject, limit=principal.rate_limit_per_minute
                        )
                        if principal is not None and self.limiter is not None
                        else None
                    )
                except Exception as exc:
                    if not is_database_outage(exc):
                        raise
                    logger.warning("request %s: database unavailable: %s", request_id.get(), exc)
                    await error_response(503, "SERVICE_UNAVAILABLE", UNAVAILABLE)(
                        scope, receive, send
                    )
                    return
                if principal is None:
                    message = "Missing API key." if not header else "Invalid or revoked API key."
                    await unauthenticated(message)(scope, receive, send)
                    return
                if verdict is not None and not verdict.allowed:
                    metrics.rate_limited()
                    response = error_response(
                        429,
                        "RATE_LIMITED",
                        f"More than {principal.rate_limit_per_minute or self.limiter.per_minute} "
                        "requests a minute for this key.",
                        {"Retry-After": str(verdict.retry_after)},
                    )
                    await response(scope, receive, send)
                    return
                scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
        finally:
            request_id.reset(token)
            wants_graphql_response.reset(accepts)

    def _wants_ide(self, request: Request) -> bool:
        return (
            self.app.graphql_ide is not None
            and request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        logger.warning("readiness check failed: %s", exc)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def create_app(
    settings: Settings | None = None, *, ide_headers: dict[str, str] | None = None
) -> Starlette:
    """`ide_headers` pre-fill GraphiQL's Headers tab: only `leadgraph quickstart` passes them."""
    settings = settings or Settings.from_env()
    tokens = (
        TokenVerifier(secret=settings.jwt_secret, public_key=settings.jwt_public_key)
        if settings.jwt_secret or settings.jwt_public_key
        else None
    )
    authenticator = ApiKeyAuthenticator(settings.api_key_cache_seconds, tokens)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=settings.tortoise_config()):
            pending = await pending_migrations(settings)
            if pending:
                raise NotMigrated(
                    f"The database is not migrated ({len(pending)} migrations pending: "
                    f"{', '.join(pending)}). Run `leadgraph migrate` first."
                )
            periodic = None
            if settings.rescore_interval_seconds > 0:
                periodic = asyncio.create_task(run_periodically(settings.rescore_interval_seconds))
            expiry = None
            if settings.visit_retention_days > 0:
                expiry = asyncio.create_task(expire_visits_periodically(settings))
            try:
                async with (
                    change_events(settings) as (app.state.change_broker, app.state.change_source),
                    webhook_dispatcher(settings),
                ):
                    yield
            finally:
                await query_store.aclose()
                if limiter is not None:
                    await limiter.aclose()
                await capture.aclose()
                if expiry is not None:
                    expiry.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await expiry
                if periodic is not None:
                    periodic.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await periodic

    limiter = (
        RateLimiter(settings.rate_limit_per_minute, counters_for(settings))
        if settings.rate_limit_per_minute > 0
        else None
    )
    capture = CaptureEdge(settings)
    query_store = QueryStore(settings.redis_url)
    view = GraphQLView(settings, ide_headers)
    graphql = metrics.observed(
        Authenticated(
            PersistedQueries(view, query_store, settings), authenticator, limiter, capture
        ),
        settings,
    )
    time_budget.configure(settings.long_statement_timeout_ms)
    exports = ExportApp(view.schema, max_running=settings.db_pool_max // 2)
    export = Authenticated(exports, authenticator, limiter, capture)  # type: ignore[arg-type]
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route(
                "/graphql",
                JsonRequestGuard(graphql, max_depth=settings.max_input_depth + 3),
                methods=["GET", "POST"],
            ),
            Route("/export/{name}", export, methods=["GET"]),
            WebSocketRoute("/graphql", view),
        ],
        lifespan=lifespan,
    )
    app.router.routes.extend([*graphiql.routes(settings), *metrics.routes(settings)])
    app.add_middleware(
        GZip, minimum_size=settings.gzip_min_bytes, compresslevel=settings.gzip_level
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(CapturePreflight, settings=settings)
    app.state.settings = settings
    app.state.schema = view.schema
    app.state.authenticator = authenticator
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory api.app:app_from_env`: one app per worker process.

    What is built by now (modules, the schema, the compiler's caches) lives as long as the
    process. Frozen, it is left out of the garbage collector's passes. Under
    bench/record_interactions.py's load (2026-12-07) a full pass took 146-148 ms, a pause for
    every request in flight, and 18.5 ms frozen; all passes together took 6.3-6.4 % of the
    worker's CPU, and 4.0-4.1 % frozen."""
    app = create_app(Settings.from_env())
    gc.collect()  # what startup left unreachable is freed, not kept for good
    gc.freeze()
    return app
