"""Attribution touches: the first or last page visit with a URL behind a contact or a lead
(`resolvers/touches.py` in SQL: one ordered `LIMIT 1` walk per parent)."""

from models import InteractionType

ORDER = {"firstTouch": "ASC", "lastTouch": "DESC"}


def touch(c, type_name: str, name: str, group: list, t: str) -> str:
    d = c.dialect
    i = c.alias()
    if type_name == "Contact":
        owner = f"{i}.contact_id = {t}.id"
    else:  # a lead's: its own, and its contact's that name no lead
        owner = (
            f"({i}.lead_id = {t}.id OR ({i}.lead_id IS NULL AND {i}.contact_id = {t}.contact_id))"
        )
    direction = ORDER[name]
    return d.embed(
        f"(SELECT {c.entity('Touch', group, i)} FROM interaction {i} "
        f"WHERE {i}.workspace_id = {c.ws} AND {owner} "
        f"AND {i}.type = {c.q.param(InteractionType.PAGE_VISITED.value)} "
        f"AND {d.json_text(f'{i}.metadata', ('url',))} IS NOT NULL "
        f"ORDER BY {i}.occurred_at {direction}, {i}.id {direction} LIMIT 1)"
    )
