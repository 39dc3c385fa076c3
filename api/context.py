"""The per-request context: who is calling and the request's data loaders."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from api.auth import Principal
from api.settings import Settings

if TYPE_CHECKING:
    from resolvers.loaders import Loaders


@dataclass
class Context:
    request: Request | None
    response: Any
    principal: Principal
    settings: Settings
    loaders: "Loaders"

    @property
    def workspace_id(self) -> int:
        return self.principal.workspace_id


Info = StrawberryInfo[Context, None]
