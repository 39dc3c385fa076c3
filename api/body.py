"""The edge's check of a GraphQL request's JSON: malformed bodies are HTTP 400 BAD_USER_INPUT
before strawberry parses them (it answered 500 to bytes that are not UTF-8, to JSON that is not
an object and to nesting deep enough to exhaust Python's recursion limit)."""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OBJECT_FIELDS = ("variables", "extensions")


def nesting(value: Any) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in current.values())
        elif isinstance(current, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in current)
    return deepest


def problem(payload: Any, max_depth: int) -> str | None:
    """What is wrong with a decoded request (None: nothing the edge refuses)."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object with a `query`."
    for name in OBJECT_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            return f"`{name}` must be a JSON object."
    for name in ("query", "operationName"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            return f"`{name}` must be a string."
    if nesting(payload) > max_depth:
        return f"The request nests objects and lists deeper than {max_depth} levels."
    return None


def _persisted(payload: dict) -> bool:
    """An automatic persisted query names its document by hash instead of sending it."""
    extensions = payload.get("extensions")
    return isinstance(extensions, dict) and "persistedQuery" in extensions


def refusal(message: str, accept: str) -> JSONResponse:
    """400 in the media type the client asked for (GraphQL over HTTP)."""
    media = (
        "application/graphql-response+json"
        if "application/graphql-response+json" in accept
        else "application/json"
    )
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]},
        status_code=400,
        media_type=media,
    )


class JsonRequestGuard:
    """Wraps the GraphQL endpoint: checks JSON bodies (and GET's `variables`/`extensions`)."""

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "GET":
            message = self._check_query_params(request)
        elif request.method == "POST" and content_type == "application/json":
            body = await read_body(receive)
            message = self._check_body(body)
            receive = replay(body, receive)
        else:
            message = None
        if message is not None:
            await refusal(message, request.headers.get("accept", ""))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_body(self, body: bytes) -> str | None:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return (
                "The request body is not valid JSON (UTF-8 text, finite numbers, no lone "
                "surrogates, at most 1,024 levels of nesting)."
            )
        if isinstance(payload, dict) and payload.get("query") is None and not _persisted(payload):
            return "The request body needs a `query` string."
        return problem(payload, self.max_depth)

    def _check_query_params(self, request: Request) -> str | None:
        payload: dict[str, Any] = {}
        for name in OBJECT_FIELDS:
            raw = request.query_params.get(name)
            if raw:
                try:
                    payload[name] = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return f"`{name}` is not valid JSON."
        return problem(payload, self.max_depth)


async def read_body(receive: Receive) -> bytes:
    """The whole request body from ASGI `receive` messages."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay(body: bytes, original: Receive) -> Receive:
    """A `receive` that hands the already-read body to the next app, then listens on."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
