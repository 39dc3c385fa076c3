"""A webhook's deliveries in SQL (`resolvers/webhooks.py: deliveries` is the reference): newest
first, keyset-paged by id, at most MAX_DELIVERIES_PAGE."""

from api.errors import BadUserInput
from resolvers.pagination import _signature
from resolvers.webhooks import DELIVERY_ORDER, MAX_DELIVERIES_PAGE, after_id


def deliveries(c, group: list, t: str) -> str:
    d = c.dialect
    kwargs = c.arguments("Webhook", group[0])
    first, after = kwargs.get("first"), kwargs.get("after")
    size = MAX_DELIVERIES_PAGE if first is None else first
    if not 0 <= size <= MAX_DELIVERIES_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_DELIVERIES_PAGE}.")
    before = after_id(after)
    w, p = c.alias(), c.alias()
    older = f" AND {w}.id < {c.q.param(before)}" if before is not None else ""
    rows = (
        f"SELECT {w}.* FROM webhook_delivery {w} WHERE {w}.webhook_id = {t}.id{older} "
        f"ORDER BY {w}.id DESC LIMIT {int(size) + 1}"
    )
    page = (
        f"(SELECT {p}.*, ROW_NUMBER() OVER (ORDER BY {p}.id DESC) AS lg_rn, "
        f"COUNT(*) OVER () AS lg_n FROM ({rows}) {p}{d.rows_in_order('lg_rn')})"
    )
    shown = f"{p}.lg_rn <= {int(size)}"
    cursor = d.cursor(_signature(DELIVERY_ORDER), [(f"{p}.id", "int")])

    def edge_field(name: str, inner: list) -> str:
        if name == "cursor":
            return cursor
        return c.entity("WebhookDelivery", inner, p)  # node

    def page_info_field(name: str, _: list) -> str:
        if name == "hasNextPage":
            return d.boolean(f"(COUNT(*) > {int(size)})")
        if name == "hasPreviousPage":
            return d.constant(before is not None)
        row = "1" if name == "startCursor" else d.least(f"{p}.lg_n", str(int(size)))
        return d.nullable(f"MAX(CASE WHEN {p}.lg_rn = {row} AND {shown} THEN {cursor} END)")

    def connection_field(name: str, inner: list) -> str:
        if name == "edges":
            return d.agg(c.object("WebhookDeliveryEdge", inner, edge_field), "lg_rn", shown)
        return c.object("PageInfo", inner, page_info_field)

    body = c.object("WebhookDeliveryConnection", group, connection_field)
    return d.embed(f"(SELECT {body} FROM {page} {p})")
