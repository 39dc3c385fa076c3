"""One execution per distinct subscription, however many sockets ask for it.

Subscribers of one workspace and role sending the same document and variables get the same
results: the subscription is executed once (its own broker subscriber, its own GraphQL
execution per event) and every result is handed to each of them through a bounded queue. A
socket that cannot keep up is ended with an error; the others go on. Without this, strawberry
executes the selection once per subscriber per event, which is most of the server's work at a
thousand subscribers.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import aclosing
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLSyntaxError
from strawberry.types import ExecutionResult

logger = logging.getLogger("leadgraph.events")
END = object()
OVERFLOW_MESSAGE = (
    "This subscription fell too far behind and was ended; catch up with the `changes` query, "
    "then subscribe again."
)


def subscription_field(query: str, operation_name: str | None) -> str | None:
    """The root field of a subscription operation; None for queries, mutations, bad documents."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return None
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    ]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    return getattr(getattr(selections[0], "name", None), "value", None) if selections else None


def stream_key(
    workspace_id: int, role: str, query: str, variables: Any, name: str | None
) -> Hashable:
    return (
        workspace_id,
        role,
        query,
        orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS),
        name,
    )


class SharedStream:
    def __init__(self, owner: "SharedStreams", key: Hashable, source: Callable) -> None:
        self.owner = owner
        self.key = key
        self.listeners: dict[asyncio.Queue, bool] = {}  # queue -> overflowed
        self.task = asyncio.create_task(self._pump(source))

    async def _pump(self, source: Callable) -> None:
        try:
            results = await source()
            async with aclosing(results):
                async for result in results:
                    for queue in list(self.listeners):
                        self._offer(queue, result)
        except asyncio.CancelledError:
            raise
        except Exception:  # the subscribers are told below; the cause goes to the log
            logger.exception("shared subscription failed")
        finally:
            self.owner.forget(self)
            for queue in list(self.listeners):
                self._offer(queue, END, force=True)

    def _offer(self, queue: asyncio.Queue, item: object, force: bool = False) -> None:
        if self.listeners.get(queue):
            return
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self.listeners[queue] = True
            if force:
                return
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            queue.put_nowait(END)


class SharedStreams:
    """The process's shared subscriptions, by key."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._streams: dict[Hashable, SharedStream] = {}

    def forget(self, stream: SharedStream) -> None:
        if self._streams.get(stream.key) is stream:
            del self._streams[stream.key]

    @contextlib.asynccontextmanager
    async def join(self, key: Hashable, source: Callable) -> AsyncIterator[AsyncIterator[Any]]:
        """Results of the subscription `key`; `source()` starts it when nobody runs it yet."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = SharedStream(self, key, source)
        queue: asyncio.Queue = asyncio.Queue(self.queue_size)
        stream.listeners[queue] = False
        try:
            yield self._results(stream, queue)
        finally:
            stream.listeners.pop(queue, None)
            if not stream.listeners:
                self.forget(stream)
                stream.task.cancel()

    @staticmethod
    async def _results(stream: SharedStream, queue: asyncio.Queue) -> AsyncIterator[Any]:
        while True:
            item = await queue.get()
            if item is END:
                if stream.listeners.get(queue):
                    yield ExecutionResult(data=None, errors=[GraphQLError(OVERFLOW_MESSAGE)])
                return
            yield item
