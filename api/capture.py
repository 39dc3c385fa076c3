"""The edge for publishable CAPTURE keys: what they may run, from which browser origins, and how
often per client address. Everything here answers before the database is touched (the allowed
origins for preflights come from a cache of the capture keys)."""

import time
from collections.abc import Iterator

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.auth import Principal
from api.errors import ApiError
from api.ratelimit import InProcessCounters, RateLimiter, RedisCounters
from api.settings import Settings
from models import ApiKey, Role

CAPTURE_FIELDS = frozenset({"trackVisit", "submitForm", "__typename"})
PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Request-ID"


class Forbidden(ApiError):
    code = "FORBIDDEN"


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen=frozenset()
) -> Iterator[str]:
    """Every root field name of an operation, through fragments, ignoring @skip/@include (a
    capture key may not even mention another field)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                yield from _root_fields(fragments[name].selection_set, fragments, seen | {name})


class CaptureOnly(SchemaExtension):
    """A CAPTURE key runs nothing but trackVisit and submitForm: any other query, mutation or
    subscription is FORBIDDEN before a field runs (and before the SQL fast path)."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        principal = getattr(ctx.context, "principal", None)
        document = ctx.graphql_document
        if (
            ctx.result is None
            and document is not None
            and principal is not None
            and principal.role is Role.CAPTURE
        ):
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            operations = [
                d
                for d in document.definitions
                if isinstance(d, OperationDefinitionNode)
                and (ctx.operation_name is None or (d.name and d.name.value == ctx.operation_name))
            ]
            allowed = all(
                op.operation is OperationType.MUTATION
                and set(_root_fields(op.selection_set, fragments)) <= CAPTURE_FIELDS
                for op in operations
            )
            if not allowed:
                ctx.result = ExecutionResult(
                    data=None,
                    errors=[
                        Forbidden(
                            "Forbidden: a CAPTURE key may only call trackVisit and submitForm."
                        )
                    ],
                )
        yield


class CaptureEdge:
    """Per-request checks for CAPTURE keys: the browser origin must be one the key allows, and
    each client address gets its own per-minute budget per key. Counters live in Redis when
    configured, else in this process: never in the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        counters = RedisCounters(settings.redis_url) if settings.redis_url else InProcessCounters()
        self.per_address = RateLimiter(settings.capture_rate_limit_per_address, counters)

    async def aclose(self) -> None:
        await self.per_address.aclose()

    def origin_allowed(self, principal: Principal, origin: str | None) -> bool:
        return (
            origin is None
            or origin in self.settings.cors_origins
            or origin in (principal.allowed_origins or ())
        )

    async def refusal(self, principal: Principal, request: Request) -> Response | None:
        """A 403 or 429 response for a CAPTURE request that may not go on, else None."""
        origin = request.headers.get("origin")
        if not self.origin_allowed(principal, origin):
            return _error(403, "FORBIDDEN", f"This key is not allowed from the origin {origin}.")
        limit = (
            principal.rate_limit_per_address
            if principal.rate_limit_per_address is not None
            else self.settings.capture_rate_limit_per_address
        )
        if limit > 0:
            address = request.client.host if request.client else "unknown"
            verdict = await self.per_address.hit(
                f"address:{principal.subject}:{address}", limit=limit
            )
            if not verdict.allowed:
                return _error(
                    429,
                    "RATE_LIMITED",
                    f"More than {limit} requests a minute from this address for this key.",
                    {"Retry-After": str(verdict.retry_after)},
                )
        return None

    def with_cors(self, principal: Principal, request: Request, send: Send) -> Send:
        """`send`, adding the CORS response headers for an origin the capture key allows."""
        origin = request.headers.get("origin")
        if origin is None or origin not in (principal.allowed_origins or ()):
            return send

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                headers.append((b"vary", b"Origin"))
                message = {**message, "headers": headers}
            await send(message)

        return send_with_cors


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class CapturePreflight:
    """Answers CORS preflights on /graphql from the origins that active CAPTURE keys allow
    (read from the database at most once per key-cache period); anything else passes on to
    the application's own CORS handling."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._origins: frozenset[str] = frozenset()
        self._until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS" and scope["path"] == "/graphql":
            request = Request(scope)
            origin = request.headers.get("origin")
            if (
                origin
                and "access-control-request-method" in request.headers
                and origin not in self.settings.cors_origins
                and origin in await self._capture_origins()
            ):
                response = Response(
                    status_code=204,
                    headers={
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": "POST",
                        "Access-Control-Allow-Headers": PREFLIGHT_HEADERS,
                        "Access-Control-Max-Age": "600",
                        "Vary": "Origin",
                    },
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _capture_origins(self) -> frozenset[str]:
        now = time.monotonic()
        if now >= self._until:
            try:
                keys = await ApiKey.filter(
                    role=Role.CAPTURE, revoked_at__isnull=True, allowed_origins__not_isnull=True
                ).values_list("allowed_origins", flat=True)
            except Exception:  # no database (yet): no capture origins, CORS stays closed
                return frozenset()
            self._origins = frozenset(o for origins in keys for o in origins or ())
            self._until = now + self.settings.api_key_cache_seconds
        return self._origins
