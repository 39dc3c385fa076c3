"""Reporting fields count toward the query cost budget (api.cost.FIELD_COSTS)."""

from graphql import parse

from api.cost import FIELD_COSTS, SCAN
from api.preflight import cost_of
from api.schema import build_schema
from api.settings import Settings


def test_report_fields_have_a_cost_and_rollups_count_per_parent():
    """Each stats field costs its fixed rule; a rollup costs its rule once per account."""
    doc = parse(
        "{ leadStats { total { count } } contactStats { count } interactionStats { count } "
        'leadFunnel(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { conversionRate } '
        "scoreHistogram { count } "
        "accounts(first: 100) { edges { node { rollup { leads interactions } } } } }"
    )
    cost = cost_of(build_schema(Settings()), doc, {}, Settings(default_page_size=20))
    assert cost == 5 * SCAN + 100 + 100 * FIELD_COSTS["Account.rollup"].fixed


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
