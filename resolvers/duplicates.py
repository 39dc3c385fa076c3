"""duplicates: groups of likely duplicate contacts or accounts in the caller's workspace."""

from api.context import Info
from api.errors import BadUserInput
from api.types.duplicates import DuplicateGroup
from api.types.records import RecordType
from models.duplicates import duplicate_groups
from models.sql import connection

TABLES = {RecordType.CONTACT: "contact", RecordType.ACCOUNT: "account"}
MAX_GROUPS = 100


def checked(type: RecordType, first: int | None) -> tuple[str, int]:
    """(table, number of groups) of a valid request; BAD_USER_INPUT otherwise."""
    first = 20 if first is None else first
    if type not in TABLES:
        raise BadUserInput("duplicates: type must be CONTACT or ACCOUNT.")
    if not 1 <= first <= MAX_GROUPS:
        raise BadUserInput(f"duplicates: first must be 1 to {MAX_GROUPS}.")
    return TABLES[type], first


async def duplicates(info: Info, type: RecordType, first: int | None = 20) -> list[DuplicateGroup]:
    table, first = checked(type, first)
    groups = await duplicate_groups(connection(), info.context.workspace_id, table, first)
    loader = getattr(info.context.loaders, f"{table}_by_id")
    records = await loader.load_many([i for g in groups for i in g.ids])
    found = {r.id: r for r in records if r is not None}
    return [
        DuplicateGroup(records=[found[i] for i in g.ids if i in found], reason=g.reason)
        for g in groups
    ]
