"""node / nodes: any object by global ID, only ever from the caller's workspace."""

import asyncio

from strawberry import relay

from api.context import Info

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


async def nodes(info: Info, ids: list[relay.GlobalID]) -> list[relay.Node | None]:
    """Several objects by global ID, in order; null for each that is not found."""
    return list(await asyncio.gather(*(_load(info, gid) for gid in ids)))
