"""Real server processes on loopback (uvicorn via `leadgraph serve`) for end-to-end tests."""

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import websockets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    port: int
    process: asyncio.subprocess.Process

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def gql(self, key: str, query: str, variables: dict | None = None) -> dict:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                self.http_url,
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {key}"},
            )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


@contextlib.asynccontextmanager
async def live_server(database_url: str, **env: str) -> AsyncIterator[LiveServer]:
    port = free_port()
    environment = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": database_url,
        "LEADGRAPH_RATE_LIMIT_PER_MINUTE": "0",
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
        "LEADGRAPH_API_KEY_CACHE_SECONDS": "0",
        "LEADGRAPH_LOG_LEVEL": "warning",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", "--port", str(port), env=environment
    )
    server = LiveServer(port, process)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
        yield server
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def subscription(
    server: LiveServer, key: str | None, query: str, variables: dict | None = None
) -> AsyncIterator["Subscription"]:
    """A graphql-transport-ws client: connection_init with the key, then one subscribe."""
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(ws)


@dataclass
class Subscription:
    ws: websockets.ClientConnection

    async def next(self, within: float = 5.0) -> dict:
        """The next `next` message's data (fails on errors or completion)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            assert message["type"] == "next", message
            assert not message["payload"].get("errors"), message
            return message["payload"]["data"]

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message}")
