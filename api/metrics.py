"""Prometheus metrics for operators (`LEADGRAPH_METRICS=true`), served at `/metrics`.

Other modules report through the small functions below (`fast_path`, `rate_limited`,
`subscription_opened`/`subscription_closed`); they are cheap and safe to call when metrics are
off. With several uvicorn workers, `leadgraph serve` points PROMETHEUS_MULTIPROC_DIR at a fresh
folder before the workers start, and a scrape adds up every worker's values.
"""

import hmac
import os
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from tortoise import connections

from api.context import request_id
from api.logs import log_request

disable_created_metrics()  # no `_created` series: they double the output and nobody graphs them

REQUESTS = Counter(
    "leadgraph_graphql_requests",
    "GraphQL requests by operation name and outcome (ok, error: field errors with data, "
    "invalid: parse/validation/cost errors, unauthenticated, rate_limited, unavailable).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "leadgraph_graphql_request_duration_seconds",
    "Time from receiving a GraphQL request to the end of its response, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FAST_PATH = Counter(
    "leadgraph_sql_fast_path",
    "Read operations the PostgreSQL fast path answered in one statement, or declined "
    "(then strawberry executes them).",
    ["result"],
)
RATE_LIMITED = Counter(
    "leadgraph_rate_limit_refusals", "Requests refused by the per-key rate limit (HTTP 429)."
)
POOL = Gauge(
    "leadgraph_db_pool_connections",
    "Database connections of the server's pool by state (in_use, idle); summed over workers.",
    ["state"],
    multiprocess_mode="livesum",
)
CAPTURE_CALLS = Counter(
    "leadgraph_capture_calls",
    "Capture calls from landing pages (trackVisit, submitForm) by outcome (accepted, refused).",
    ["call", "outcome"],
)
SUBSCRIPTIONS = Gauge(
    "leadgraph_subscriptions_open",
    "Open GraphQL subscriptions; summed over workers.",
    multiprocess_mode="livesum",
)

# Operation names come from clients: past this many distinct names a process reports "other".
MAX_OPERATION_NAMES = 200
_operation_names: set[str] = set()

# HTTP refusals at the edge, before GraphQL runs.
REFUSALS = {401: "unauthenticated", 429: "rate_limited", 503: "unavailable"}


@dataclass
class Observation:
    """What one request's GraphQL execution tells the edge (for metrics and log lines)."""

    operation: str = ""
    outcome: str | None = None


current: ContextVar[Observation | None] = ContextVar("leadgraph_observation", default=None)


_ANSWERED, _DECLINED = FAST_PATH.labels("answered"), FAST_PATH.labels("declined")


def fast_path(*, answered: bool) -> None:
    """The SQL fast path answered a read operation or declined it."""
    (_ANSWERED if answered else _DECLINED).inc()


def rate_limited() -> None:
    RATE_LIMITED.inc()


def capture_call(call: str, outcome: str) -> None:
    CAPTURE_CALLS.labels(call, outcome).inc()


def subscription_opened() -> None:
    SUBSCRIPTIONS.inc()


def subscription_closed() -> None:
    SUBSCRIPTIONS.dec()


def operation_label(name: str) -> str:
    if name in _operation_names or not name:
        return name
    if len(_operation_names) >= MAX_OPERATION_NAMES:
        return "other"
    _operation_names.add(name)
    return name


def update_pool() -> None:
    """Read this process's pool (asyncpg) or its single SQLite connection into the gauge."""
    try:
        client = connections.get("default")
    except Exception:  # no ORM context (before startup): nothing to report
        return
    pool = getattr(client, "_pool", None)
    if pool is not None:
        size, idle = pool.get_size(), pool.get_idle_size()
        in_use = size - idle
    elif getattr(client, "_connection", None) is not None:
        lock = getattr(client, "_lock", None)
        in_use = 1 if lock is not None and lock.locked() else 0
        idle = 1 - in_use
    else:
        in_use = idle = 0
    POOL.labels("in_use").set(in_use)
    POOL.labels("idle").set(idle)


class OperationObserver(SchemaExtension):
    """Tells the edge the operation's name and outcome."""

    def on_execute(self):
        observation = current.get()
        if observation is not None:
            observation.operation = self.execution_context.operation_name or ""
        yield

    def on_operation(self):
        yield
        observation = current.get()
        if observation is None:
            return
        ctx = self.execution_context
        observation.operation = ctx.operation_name or ""
        result = ctx.result
        errors = (result.errors if result is not None else None) or ctx.pre_execution_errors
        if not errors:
            observation.outcome = "ok"
        elif (result is None or result.data is None) and all(not e.path for e in errors):
            observation.outcome = "invalid"  # parse, validation, variables, cost: nothing ran
        else:
            observation.outcome = "error"


class ObservedEndpoint:
    """Wraps the GraphQL endpoint: counts and times each request, then calls `on_done`."""

    def __init__(self, app: ASGIApp, *, record: bool, on_done=None) -> None:
        self.app = app
        self.record = record
        self.on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observation = Observation()
        token = current.set(observation)
        # The request id tags every log line of the request, the access line included.
        header = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode()
        rid = request_id.set(header or uuid.uuid4().hex)
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            outcome = observation.outcome or REFUSALS.get(status)
            if outcome is not None and self.record:  # None: the GraphiQL page, nothing executed
                operation = operation_label(observation.operation)
                REQUESTS.labels(operation, outcome).inc()
                LATENCY.labels(operation).observe(elapsed)
                update_pool()
            if self.on_done is not None:
                self.on_done(scope, status, elapsed, observation.operation, outcome or "-")
            current.reset(token)
            request_id.reset(rid)


def observed(endpoint: ASGIApp, settings) -> ASGIApp:
    """The GraphQL endpoint, counted and timed (metrics) and with access lines (JSON logs)."""
    json_logs = settings.log_format == "json"
    if not (settings.metrics or json_logs):
        return endpoint
    return ObservedEndpoint(
        endpoint, record=settings.metrics, on_done=log_request if json_logs else None
    )


def routes(settings) -> list[Route]:
    if not settings.metrics:
        return []
    return [Route("/metrics", metrics_endpoint(settings.metrics_token))]


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_endpoint(token: str | None):
    """The `/metrics` route: the exposition format, behind a bearer token when one is set."""

    async def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "A metrics bearer token is required.\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        update_pool()
        # The text format, or OpenMetrics for a scraper that asks for it.
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(_registry()), headers={"Content-Type": content_type})

    return metrics
