"""Reporting fields count toward the query cost budget (api.limits.REPORT_FIELD_COSTS)."""

from graphql import parse

from api.limits import REPORT_FIELD_COSTS, query_cost


def test_report_fields_have_a_cost_and_rollups_count_per_parent():
    """Each stats field costs its fixed rule; a rollup costs its rule once per account."""
    doc = parse(
        "{ leadStats { total { count } } contactStats { count } interactionStats { count } "
        "leadFunnel(from: 1, to: 2) { conversionRate } scoreHistogram { count } "
        "accounts(first: 100) { edges { node { rollup { leads interactions } } } } }"
    )
    cost = query_cost(
        doc.definitions[0].selection_set,
        {},
        {},
        default_page_size=20,
        connection_fields=frozenset({"accounts"}),
    )
    assert cost == 5 * 1_000 + 100 + 100 * REPORT_FIELD_COSTS["rollup"]


async def test_rollups_below_nested_pages_can_exceed_the_budget(tenant, count_statements):
    """100 accounts x 100 child accounts is within the budget; asking each child for its
    rollup is 100,000 more and is refused before any statement runs."""
    pages = "accounts(first: 100) { edges { node { childAccounts(first: 100) { edges { node { %s } } } } } }"
    ok = await tenant.post("{ " + pages % "name" + " }")
    assert "errors" not in ok.json()
    count_statements.statements.clear()
    refused = (await tenant.post("{ " + pages % "rollup { leads }" + " }")).json()["errors"]
    assert refused[0]["extensions"]["code"] == "QUERY_TOO_EXPENSIVE"
    assert "110100" in refused[0]["message"]
    assert count_statements.statements == []
