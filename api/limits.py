"""Abuse limits that need more than strawberry ships: request body size, NUL characters.

Query cost lives in api.cost and api.preflight (it needs coerced variables)."""

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    StringValueNode,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api.errors import ApiError


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
