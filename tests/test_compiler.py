"""The PostgreSQL fast path answers exactly what strawberry's field-by-field execution answers:
the same JSON for hand-picked and for generated queries, in one SQL statement."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from scoring_helpers import contact_with_leads, record
from test_fuzz import QUERIES

from api.context import Context
from api.schema import build_schema
from models import Role
from resolvers.loaders import Loaders


async def reference(tenant, app_settings, query: str, variables: dict | None = None) -> dict:
    """The same query through strawberry with the fast path off."""
    from dataclasses import replace

    plain = replace(app_settings, sql_fast_path=False)
    schema = build_schema(plain)
    from api.auth import Principal

    principal = Principal(tenant.workspace.id, Role.ADMIN, None, "reference")
    context = Context(None, None, principal, plain, Loaders(tenant.workspace.id, plain))
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


def first_difference(a, b, path="") -> str | None:
    """Where two answers first differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            found = first_difference(a[k], b[k], f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b and type(a) is type(b) else f"{path}: {a!r} != {b!r}"


@pytest.fixture
async def data(tenant):
    accounts = []
    for name, industry in (("Alpha", "Retail"), ("Beta", None), ("Gamma", "Energy")):
        r = await tenant.mutate(
            "createAccount", {"name": name, "industry": industry}, "account { id }"
        )
        accounts.append(r["account"]["id"])
    await tenant.mutate(
        "updateAccount", {"id": accounts[2], "parentAccountId": accounts[0]}, "account { id }"
    )
    for i, first in enumerate(["Ann", None, "Bo", "Cy", ""]):
        c = await tenant.mutate(
            "createContact",
            {
                "lastName": f"L{i}",
                "firstName": first,
                "email": f"p{i}@x.io",
                "accountId": accounts[i % 3],
            },
            "contact { id }",
        )
        cid = c["contact"]["id"]
        for topic in ("Solar", "Wind")[: i % 3]:
            await tenant.mutate("createLead", {"topic": topic, "contactId": cid}, "lead { id }")
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Heat"])
    for days in (0, 1, 3):
        await record(
            tenant,
            contactId=contact_id,
            type="FORM_SUBMITTED",
            occurredAt=(datetime.now(UTC) - timedelta(days=days))
            .replace(microsecond=0)
            .isoformat(),
        )
    await record(tenant, leadId=lead, type="MEETING", metadata={"room": "B", "n": 2})
    await tenant.mutate("createLead", {"topic": "Solo", "companyName": "Indie"}, "lead { id }")


QUERIES_BY_HAND = [
    "{ contacts(first: 1) { edges { node { id } } } }",  # warms up; the ids feed node() below
    'query { node(id: "QWNjb3VudDox") { id ... on Account { name contacts { totalCount } } ... on Contact { email } } }',
    'query { node(id: "Q29udGFjdDox") { __typename ... on Contact { fullName account { name industry } leads(first: 10) { edges { node { topic status source score } } } } } }',
    'query { node(id: "TGVhZDoxMDAwMDAw") { id } missing: node(id: "QWNjb3VudDo5OTk5OTk=") { id } }',
    "{ accounts { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id __typename name industry createdAt updatedAt parentAccount { name } primaryContact { id } } } } }",
    "{ accounts(orderBy: [{field: INDUSTRY, direction: DESC}]) { edges { cursor node { name childAccounts { totalCount edges { node { name } } } } } } }",
    "{ a: accounts(first: 2) { edges { node { name contacts(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { fullName firstName email account { name } leads { edges { cursor node { topic status score grade salesReady contact { lastName } } } } } } } leads(orderBy: [{field: SCORE, direction: DESC}]) { totalCount edges { node { topic } } } } } } }",
    '{ contacts(filter: {or: [{firstName: {isNull: true}}, {account: {industry: {eq: "Retail"}}}]}, orderBy: [{field: FIRST_NAME, direction: DESC}]) { edges { cursor node { lastName fullName interactions { totalCount edges { cursor node { id type occurredAt metadata lead { topic } contact { lastName } } } } } } } }',
    '{ leads(search: "indie") { edges { node { topic companyName contact { id } account { id } } } } leads2: leads(filter: {salesReady: false, score: {gte: 0}}) { totalCount } }',
    "{ leads { edges { node { topic interactions(first: 2) { totalCount pageInfo { hasNextPage } edges { cursor node { type occurredAt metadata } } } } } } }",
    '{ contacts(first: 2, orderBy: [{field: CREATED_AT, direction: DESC}]) { edges { node { leads(filter: {topic: {in: ["Wind"]}}) { totalCount } } } } }',
]


@pytest.mark.parametrize("query", QUERIES_BY_HAND)
async def test_same_answer_as_strawberry(tenant, data, settings, count_statements, query):
    count_statements.statements.clear()
    fast = await tenant.gql(query)
    assert len(count_statements.statements) == 1, "the compiler should have answered"
    expected = await reference(tenant, settings, query)
    assert fast == expected, first_difference(fast, expected)


async def test_cursors_from_the_fast_path_page_on(tenant, data, settings):
    query = "query($after: String) { contacts(first: 2, after: $after, orderBy: [{field: FIRST_NAME}]) { pageInfo { hasNextPage endCursor } edges { cursor node { lastName } } } }"
    after, names = None, []
    while True:
        page = (await tenant.gql(query, {"after": after}))["contacts"]
        assert page == (await reference(tenant, settings, query, {"after": after}))["contacts"]
        names += [e["node"]["lastName"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(names) == 6 and len(set(names)) == 6


@settings(
    max_examples=int(os.environ.get("LEADGRAPH_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=QUERIES)
async def test_generated_queries_agree(tenant, data, settings, query):
    response = await tenant.post(query)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        return  # refused queries are the fuzz tests' business
    assert body["data"] == await reference(tenant, settings, query)


async def test_fast_path_keeps_workspaces_apart(tenant, make_tenant, count_statements):
    other = await make_tenant("Other")
    theirs = await other.mutate("createAccount", {"name": "Their secret"}, "account { id }")
    count_statements.statements.clear()
    data = await tenant.gql(
        "query($id: ID!) { node(id: $id) { id ... on Account { name } } accounts { totalCount } }",
        {"id": theirs["account"]["id"]},
    )
    assert len(count_statements.statements) == 1
    assert data == {"node": None, "accounts": {"totalCount": 0}}
