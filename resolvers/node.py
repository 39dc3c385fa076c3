"""node / nodes: any object by global ID, only ever from the caller's workspace."""

from collections.abc import Awaitable

import strawberry
from strawberry import relay
from strawberry.relay.types import GlobalIDValueError

from api.context import Info
from api.errors import BadUserInput
from api.input_checks import MAX_ID, clip

TABLES = {
    "Account": "account",
    "Contact": "contact",
    "Lead": "lead",
    "Interaction": "interaction",
    "Opportunity": "opportunity",
}


async def _load(info: Info, gid: relay.GlobalID):
    if gid.type_name == "ScoringModel":
        return (await info.context.loaders.load_scoring_models([gid.node_id]))[0]
    table = TABLES.get(gid.type_name)
    if table is None:
        return None
    return (await info.context.loaders.load_nodes(table, [gid.node_id]))[0]


async def node(info: Info, id: relay.GlobalID) -> relay.Node | None:
    """Any object by its global ID; null if it does not exist in your workspace."""
    return await _load(info, id)


async def _load_raw(info: Info, raw: str):
    try:
        gid = relay.GlobalID.from_id(raw)
    except GlobalIDValueError:
        raise BadUserInput(f"Invalid ID: {clip(raw, 80)}") from None
    if not (gid.node_id.isascii() and gid.node_id.isdigit() and int(gid.node_id) <= MAX_ID):
        return None  # no row can have it
    return await _load(info, gid)


def nodes(info: Info, ids: list[strawberry.ID]) -> list[Awaitable[relay.Node | None]]:
    """Several objects by global ID, in order; null for each that is not found. A malformed ID
    nulls its own entry (with an error at its index), not the whole answer."""
    return [_load_raw(info, raw) for raw in ids]
