"""Subscriptions over WebSocket (graphql-transport-ws): authentication and the protocol hooks.

The API key comes in the `connection_init` payload ({"Authorization": "Bearer <key>"}) or in
the upgrade request's Authorization header. A missing or bad key closes the socket with 4401;
a role that may not subscribe, with 4403.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    _OperationStreamClosed,
)
from strawberry.types.unset import UNSET

from api.context import Context
from api.events import subscription_closed, subscription_opened
from api.shared_streams import SharedStreams, stream_key, subscription_field
from models import Role

# The one check of who may subscribe: roles outside this set are refused with 4403.
MAY_SUBSCRIBE = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES, Role.READ_ONLY})


class NotAuthenticated(Exception):
    pass


class SubscriptionProtocol(BaseGraphQLTransportWSHandler):
    async def run_operation(self, operation: Any) -> None:
        """Subscriptions join the shared execution of their (workspace, role, document,
        variables); queries and mutations sent over the socket run as strawberry runs them."""
        field = subscription_field(operation.query, operation.operation_name)
        principal = getattr(self.context, "principal", None)
        if field is None or principal is None:
            await super().run_operation(operation)
            return
        key = stream_key(
            principal.workspace_id,
            principal.role.value,
            operation.query,
            operation.variables,
            operation.operation_name,
        )

        def source() -> Any:
            return self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        subscription_opened(field)
        try:
            async with self.view.shared_streams.join(key, source) as results:
                await self._send_result_stream(operation, results)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        finally:
            subscription_closed(field)

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload")
        # Strawberry fills connection_params only on contexts declaring it; ours is shared
        # with HTTP requests, so the payload is kept here.
        self.context.connection_params = payload if isinstance(payload, dict) else {}
        try:
            await super().handle_connection_init(message)
        except NotAuthenticated:
            await self.websocket.close(code=4401, reason="Unauthorized")


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames; the view encodes JSON to bytes (orjson)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class WebSocketAuth:
    """Mixed into the GraphQL view: the connection_init check."""

    graphql_transport_ws_handler_class = SubscriptionProtocol
    websocket_adapter_class = TextWebSocketAdapter
    _shared_streams: SharedStreams | None = None

    @property
    def shared_streams(self) -> SharedStreams:
        if self._shared_streams is None:
            self._shared_streams = SharedStreams(self.settings.subscriber_queue_size)  # type: ignore[attr-defined]
        return self._shared_streams

    async def on_ws_connect(self, context: Context) -> Any:
        from resolvers.loaders import Loaders

        params = getattr(context, "connection_params", None) or {}
        header = (
            params.get("Authorization")
            or params.get("authorization")
            or context.request.headers.get("authorization")  # type: ignore[union-attr]
        )
        authenticator = context.request.app.state.authenticator  # type: ignore[union-attr]
        principal = await authenticator.authenticate(header if isinstance(header, str) else None)
        if principal is None:
            raise NotAuthenticated
        if principal.role not in MAY_SUBSCRIBE:
            raise ConnectionRejectionError({"reason": "This role may not subscribe."})
        context.principal = principal
        context.loaders = Loaders(principal.workspace_id, context.settings)
        return UNSET
