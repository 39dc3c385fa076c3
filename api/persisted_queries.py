"""Apollo automatic persisted queries (APQ) over POST and GET, and caching headers for GET.

A request carrying `extensions.persistedQuery.sha256Hash` without a query runs the document
stored under that hash, or answers PersistedQueryNotFound; with the query, the query is checked
against the hash and stored. The store is shared by every server process: Redis when
LEADGRAPH_REDIS_URL is set, the database otherwise; each process keeps a small local cache.
"""

import contextlib
import hashlib
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise.exceptions import IntegrityError

from api.body import read_body, replay
from api.settings import Settings
from models.persisted_query import PersistedQuery

LOCAL_CACHE_SIZE = 2000
NOT_FOUND = {
    "errors": [
        {
            "message": "PersistedQueryNotFound",
            "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
        }
    ]
}


class QueryStore:
    def __init__(self, redis_url: str | None) -> None:
        self._local: OrderedDict[str, str] = OrderedDict()
        self._redis = None
        if redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(redis_url)

    async def get(self, sha256: str) -> str | None:
        query = self._local.get(sha256)
        if query is None:
            if self._redis is not None:
                raw = await self._redis.get(f"leadgraph:apq:{sha256}")
                query = raw.decode() if raw is not None else None
            else:
                row = await PersistedQuery.filter(sha256=sha256).first()
                query = row.query if row else None
            if query is not None:
                self._remember(sha256, query)
        return query

    async def put(self, sha256: str, query: str) -> None:
        if sha256 in self._local:
            return
        if self._redis is not None:
            await self._redis.set(f"leadgraph:apq:{sha256}", query)
        elif not await PersistedQuery.filter(sha256=sha256).exists():
            with contextlib.suppress(IntegrityError):  # another process stored it meanwhile
                await PersistedQuery.create(sha256=sha256, query=query)
        self._remember(sha256, query)

    def _remember(self, sha256: str, query: str) -> None:
        self._local[sha256] = query
        if len(self._local) > LOCAL_CACHE_SIZE:
            self._local.popitem(last=False)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _hash_of(extensions: Any) -> str | None:
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    sha = persisted.get("sha256Hash")
    return sha if isinstance(sha, str) else None


async def _answer(send: Send, status: int, body: dict) -> None:
    raw = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _mismatch() -> dict:
    return {
        "errors": [
            {
                "message": "provided sha does not match query",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }


class PersistedQueries:
    """Wraps the GraphQL view (inside authentication, so only clients with a key store)."""

    def __init__(self, app: ASGIApp, store: QueryStore, settings: Settings) -> None:
        self.app = app
        self.store = store
        self.cache_control = (
            f"private, max-age={settings.query_cache_seconds}".encode()
            if settings.query_cache_seconds > 0
            else b"private, no-cache"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            await self._get(scope, receive, send)
        elif scope["method"] == "POST":
            await self._post(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _resolve(self, sha: str, query: Any, send: Send) -> str | None:
        """The query to run, or None after answering the client."""
        if isinstance(query, str) and query:
            if hashlib.sha256(query.encode()).hexdigest() != sha:
                await _answer(send, 400, _mismatch())
                return None
            await self.store.put(sha, query)
            return query
        stored = await self.store.get(sha)
        if stored is None:
            await _answer(send, 200, NOT_FOUND)
        return stored

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = dict(parse_qsl(scope.get("query_string", b"").decode()))
        sha = None
        if "extensions" in params:
            try:
                sha = _hash_of(orjson.loads(params["extensions"]))
            except orjson.JSONDecodeError:
                sha = None
        if sha is not None:
            query = await self._resolve(sha, params.get("query"), send)
            if query is None:
                return
            params["query"] = query
            scope = {**scope, "query_string": urlencode(params).encode()}

        async def send_with_cache_headers(message: Message) -> None:
            headers = list(message.get("headers", []))
            own = any(name.lower() == b"cache-control" for name, _ in headers)
            if message["type"] == "http.response.start" and message["status"] == 200 and not own:
                # Query answers only: a page that sets its own (GraphiQL: no-store) keeps it.
                headers.append((b"cache-control", self.cache_control))
                headers.append((b"vary", b"Authorization"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cache_headers)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        sha = _hash_of(data.get("extensions")) if isinstance(data, dict) else None
        if sha is not None:
            query = await self._resolve(sha, data.get("query"), send)
            if query is None:
                return
            data["query"] = query
            body = orjson.dumps(data)
        await self.app(scope, replay(body, receive), send)
