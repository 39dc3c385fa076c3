"""The PostgreSQL fast path answers exactly what strawberry's field-by-field execution answers:
the same JSON for hand-picked and for generated queries, in one SQL statement."""

import base64
import os
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fragments import realistic, with_fragments
from graphql import parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from scoring_helpers import contact_with_leads, record
from strawberry.schema.schema import Schema as StrawberrySchema
from test_fuzz import SCALARS, SDL

from api.context import Context
from api.schema import build_schema
from api.settings import Settings
from models import Role
from resolvers.compiler import Decline, compile_read
from resolvers.compiler.outcomes import DECLINE_REASONS
from resolvers.loaders import Loaders

PLAIN_SCHEMA = build_schema(Settings())


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


def tokens_without_time(value):
    """Sync tokens (`changes.nextToken`) carry the clock's second when they were made: keep
    only their position, and check the second is now's."""
    if isinstance(value, dict):
        return {k: tokens_without_time(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tokens_without_time(v) for v in value]
    if isinstance(value, str):
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return value
        if isinstance(decoded, list) and len(decoded) == 3 and all(type(x) is int for x in decoded):
            assert abs(decoded[2] - time.time()) < 30, decoded
            return ("token", decoded[0], decoded[1])
    return value


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
    for days, url in ((5, "https://x.io/a"), (2, "https://x.io/b"), (1, None)):
        await record(
            tenant,
            contactId=contact_id,
            type="PAGE_VISITED",
            occurredAt=(datetime.now(UTC) - timedelta(days=days))
            .replace(microsecond=0)
            .isoformat(),
            metadata={"url": url, "referrer": "https://r.io", "utm": {"source": "ads", "term": "t"}}
            if url
            else {"other": 1},
        )
    solo = await tenant.mutate(
        "createLead", {"topic": "Solo", "companyName": "Indie"}, "lead { id }"
    )
    await tenant.gql(
        "mutation($i: LeadTransitionInput!) { acceptLead(input: $i) { lead { id } } }",
        {"i": {"leadId": lead, "reason": "hot"}},
    )
    await tenant.mutate(
        "qualifyLead",
        {"leadId": lead, "opportunityName": "Heat deal", "estimatedValue": 1250.5},
        "lead { id }",
    )
    await tenant.mutate(
        "qualifyLead", {"leadId": solo["lead"]["id"], "estimatedValue": 300.0}, "lead { id }"
    )
    await tenant.mutate(
        "createScoringModel",
        {
            "name": "Second",
            "salesReadyThreshold": 5,
            "rules": [
                {"interactionType": "FORM_SUBMITTED", "points": 2, "maxPoints": 3},
                {"interactionType": "MEETING", "points": 7, "frequency": "AT_LEAST", "minCount": 1},
                {"interactionType": "EMAIL_BOUNCED", "points": 4, "frequency": "NONE"},
                {"interactionType": "PAGE_VISITED", "points": 1, "withinDays": 30},
            ],
            "grades": [{"label": "hot", "minScore": 5}, {"label": "cold", "minScore": 0}],
        },
        "scoringModel { id }",
    )


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
    # what the old fast path declined: history, opportunity, models, keys, backward pages
    # (Lead.scores and ScoringModel.rules decline since issue 12 changed their stored JSON)
    "{ leads(orderBy: [{field: SCORE, direction: DESC}]) { edges { node { topic score grade salesReady history { at fromStatus toStatus reason apiKeyName } opportunity { id name estimatedValue lead { topic } contact { lastName } account { name } } } } } }",
    "{ scoringModels { __typename id name primary active salesReadyThreshold createdAt updatedAt grades { __typename label minScore } } apiKeys { id name role createdAt lastUsedAt revokedAt } }",
    "{ leads(last: 2) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { topic } } } accounts(last: 10, orderBy: [{field: NAME, direction: DESC}]) { totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor } edges { node { name } } } }",
    # page shapes: backward edges without pageInfo (rows re-ordered for display), backward
    # hasPreviousPage alone (numbered, not counted), a nested startCursor without edges
    "{ accounts(last: 3, orderBy: [{field: NAME}]) { edges { cursor node { name } } } contacts(last: 2) { pageInfo { hasPreviousPage } edges { node { lastName } } } leads { edges { node { interactions(first: 1) { pageInfo { startCursor } } } } } }",
    "{ contacts(last: 0) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor } } leads(first: 0) { totalCount pageInfo { hasNextPage endCursor } } }",
    '{ nodes(ids: ["QWNjb3VudDox", "Q29udGFjdDox", "TGVhZDox", "U2NvcmluZ01vZGVsOjE=", "QXBpS2V5OjE=", "T3Bwb3J0dW5pdHk6MQ==", "SW50ZXJhY3Rpb246MQ==", "Tm9wZTox"]) { __typename id ... on Node { id } ... on ScoringModel { name } ... on Opportunity { name lead { topic } } ... on Interaction { type } } }',
    "{ leads { edges { node { topic firstTouch { at url referrer utmSource utmMedium utmCampaign utmTerm utmContent } lastTouch { __typename at url utmSource } contact { firstTouch { at url } } } } } apiKeys { allowedOrigins rateLimitPerMinute rateLimitPerAddress } }",
    # an Apollo-style read: one named fragment per type, __typename everywhere
    """query Dashboard { accounts(first: 3) { __typename ...Accounts edges { __typename node { ...AccountCard contacts(first: 2) { ...Contacts edges { node { ...ContactCard } } } } } } }
    fragment Accounts on AccountConnection { totalCount pageInfo { ...Info } }
    fragment Contacts on ContactConnection { totalCount pageInfo { ...Info } }
    fragment Info on PageInfo { __typename hasNextPage endCursor }
    fragment AccountCard on Account { __typename id name ... on Node { id } parentAccount { ...AccountName } }
    fragment AccountName on Account { __typename name }
    fragment ContactCard on Contact { __typename id fullName leads(first: 3) { edges { node { ...LeadRow } } } }
    fragment LeadRow on Lead { __typename id topic score ... @include(if: true) { grade } ... @skip(if: true) { email } interactions(first: 2) { edges { node { __typename type occurredAt } } } }""",
]
# (query, variables): directives and arguments from variables
QUERIES_WITH_VARIABLES = [
    (
        "query($full: Boolean!, $brief: Boolean = false, $n: Int) { contacts(first: $n) { edges { node { lastName ...Extra @include(if: $full) email @skip(if: $brief) } } } } fragment Extra on Contact { fullName account { name } }",
        {"full": True, "n": 3},
    ),
    (
        "query($full: Boolean!, $brief: Boolean = false, $n: Int) { contacts(first: $n) { edges { node { lastName ...Extra @include(if: $full) email @skip(if: $brief) } } } } fragment Extra on Contact { fullName account { name } }",
        {"full": False, "brief": True},
    ),
    (
        "query($id: ID!, $f: LeadFilter) { node(id: $id) { ... on Contact { leads(filter: $f) { totalCount edges { node { topic } } } } } }",
        {"id": "Q29udGFjdDox", "f": {"topic": {"startsWith": "s"}}},
    ),
]


@pytest.mark.parametrize("query", QUERIES_BY_HAND)
async def test_same_answer_as_strawberry(tenant, data, settings, count_statements, query):
    count_statements.statements.clear()
    fast = await tenant.gql(query)
    assert len(count_statements.statements) == 1, "the compiler should have answered"
    expected = await reference(tenant, settings, query)
    assert fast == expected, first_difference(fast, expected)


@pytest.mark.parametrize(("query", "variables"), QUERIES_WITH_VARIABLES)
async def test_variables_and_directives(tenant, data, settings, count_statements, query, variables):
    count_statements.statements.clear()
    fast = await tenant.gql(query, variables)
    assert len(count_statements.statements) == 1, "the compiler should have answered"
    expected = await reference(tenant, settings, query, variables)
    assert fast == expected, first_difference(fast, expected)


async def test_apollo_style_fragments_cost_the_plain_query(tenant, data, count_statements):
    """The same nested read with one fragment per type is one statement, like the plain one,
    and gives the same answer (plus the `__typename` keys it asks for)."""
    plain = "{ accounts(first: 5) { edges { node { id name contacts(first: 5) { edges { node { id lastName leads(first: 5) { edges { node { id topic interactions(first: 5) { edges { node { type occurredAt } } } } } } } } } } } } }"
    apollo = """query Accounts { accounts(first: 5) { __typename edges { __typename node { ...A } } } }
    fragment A on Account { __typename id name contacts(first: 5) { __typename edges { __typename node { ...C } } } }
    fragment C on Contact { __typename id lastName leads(first: 5) { __typename edges { __typename node { ...L } } } }
    fragment L on Lead { __typename id topic interactions(first: 5) { __typename edges { __typename node { ...I } } } }
    fragment I on Interaction { __typename type occurredAt }"""
    count_statements.statements.clear()
    plain_data = await tenant.gql(plain)
    assert len(count_statements.statements) == 1
    count_statements.statements.clear()
    apollo_data = await tenant.gql(apollo)
    assert len(count_statements.statements) == 1

    def without_typename(value):
        if isinstance(value, dict):
            return {k: without_typename(v) for k, v in value.items() if k != "__typename"}
        if isinstance(value, list):
            return [without_typename(v) for v in value]
        return value

    assert without_typename(apollo_data) == plain_data


async def test_fragments_compile_to_the_plain_querys_statement(tenant, data, count_statements):
    """Written with one fragment per type (as the peer benchmark sends it), the nested read
    compiles to the very statement of the plain form: the two differ in nothing but text, so
    the fragment form costs what the plain one costs."""
    plain = """{ accounts(first: 4) { edges { node { name
      contacts(first: 3) { edges { node { firstName lastName email
        leads(first: 2) { edges { node { topic status score } } }
        interactions(first: 5) { edges { node { type occurredAt } } } } } } } } } }"""
    fragments = """query Accounts { accounts(first: 4) { edges { node { ...A } } } }
    fragment A on Account { name contacts(first: 3) { edges { node { ...C } } } }
    fragment C on Contact { firstName lastName email
      leads(first: 2) { edges { node { ...L } } }
      interactions(first: 5) { edges { node { ...I } } } }
    fragment L on Lead { topic status score }
    fragment I on Interaction { type occurredAt }"""
    statements = []
    for query in (plain, fragments):
        count_statements.statements.clear()
        answer = await tenant.gql(query)
        statements.append(count_statements.statements[:])
        assert len(statements[-1]) == 1
        assert answer["accounts"]["edges"]
    assert statements[0] == statements[1]


async def test_api_keys_stay_admin_only(tenant, data):
    """The compiler declines `apiKeys` for other roles; strawberry answers FORBIDDEN as before."""
    for role in (Role.READ_ONLY, Role.SALES, Role.MARKETING):
        body = (await tenant.post("{ apiKeys { id } }", role=role)).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len((await tenant.gql("{ apiKeys { id } }"))["apiKeys"]) == len(Role)


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
    total = (await tenant.gql("{ contacts { totalCount } }"))["contacts"]["totalCount"]
    assert len(names) == total and len(set(names)) == total


GENERATED = settings(
    max_examples=int(os.environ.get("LEADGRAPH_FUZZ_EXAMPLES", "120")),
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GRAPHQL_SCHEMA = build_schema(Settings())._schema
DOCUMENTS = from_schema(SDL, custom_scalars=SCALARS, print_ast=lambda d: d).filter(
    lambda d: d.definitions[0].operation.value == "query"
)


@GENERATED
@given(document=DOCUMENTS, seed=st.integers(0, 2**32))
async def test_generated_queries_with_fragments_agree_byte_for_byte(
    tenant, data, settings, document, seed
):
    """Generated queries, rewritten as client libraries send them (named and inline fragments,
    __typename, @include/@skip) and with the argument values a client sends (`realistic`:
    well-formed IDs, time zones, page sizes; as generated, nearly every one is a client error and
    compares nothing): the compiled answer is strawberry's, byte for byte."""
    document = realistic(document, GRAPHQL_SCHEMA)
    query = with_fragments(GRAPHQL_SCHEMA, document, seed)
    response = await tenant.post(query)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        return  # refused queries are the fuzz tests' business
    expected = await reference(tenant, settings, query)
    fast, slow = tokens_without_time(body["data"]), tokens_without_time(expected)
    assert fast == slow, first_difference(fast, slow)
    if fast == body["data"]:  # no sync token (its clock second may differ between the two)
        assert response.content == orjson.dumps({"data": expected})


@GENERATED
@given(document=DOCUMENTS, seed=st.integers(0, 2**32))
def test_generated_queries_decline_only_for_listed_reasons(document, seed):
    """Every generated read (fragments included) compiles, or declines for a reason on the
    written list (outcomes.DECLINE_REASONS); any other reason is a gap in the compiler."""
    query = with_fragments(GRAPHQL_SCHEMA, document, seed)
    parsed = parse(query)
    if validate(GRAPHQL_SCHEMA, parsed):
        return
    for postgres in (True, False):
        try:
            compile_read(
                PLAIN_SCHEMA,
                Settings(),
                postgres=postgres,
                workspace_id=1,
                role=Role.ADMIN,
                document=parsed,
                operation_name=None,
                variables={},
            )
        except Decline as exc:
            assert exc.reason in DECLINE_REASONS, (exc.reason, query)


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


async def test_repeats_skip_the_pipeline_but_not_the_checks(
    tenant, data, count_statements, monkeypatch
):
    """An exact repeat of an answered read is served from its plan (one statement, counted as
    compiled); another role, other variables or a refused request still meet every check."""
    from resolvers.compiler import OUTCOMES

    query = "query Keys($n: Int) { apiKeys { name } contacts(first: $n) { totalCount } }"
    first = await tenant.gql(query, {"n": 2})
    before = OUTCOMES["compiled"]
    pipelines = []
    execute = StrawberrySchema.execute

    async def counted(self, *args, **kwargs):
        pipelines.append(args)
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(StrawberrySchema, "execute", counted)
    count_statements.statements.clear()
    assert await tenant.gql(query, {"n": 2}) == first
    assert len(count_statements.statements) == 1
    assert OUTCOMES["compiled"] == before + 1
    assert pipelines == []  # answered from the plan
    await tenant.gql(query, {"n": 3})
    assert len(pipelines) == 1  # other variables: the whole pipeline
    refused = (await tenant.post(query, {"n": 2}, role=Role.READ_ONLY)).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    too_big = (await tenant.post(query, {"n": 1000})).json()
    assert too_big["data"] is None and too_big["errors"]


async def test_a_repeat_is_sent_as_the_first_answer_was(tenant, data):
    """The repeat lane answers before strawberry's HTTP view: same status, media type (both
    `application/json` and the negotiated `application/graphql-response+json`) and bytes."""
    body = {"query": "query($n: Int) { contacts(first: $n) { totalCount } }", "variables": {"n": 2}}
    for accept in ("application/json", "application/graphql-response+json"):
        headers = {"Authorization": f"Bearer {tenant.keys[Role.ADMIN]}", "Accept": accept}
        first, repeat = [
            await tenant.http.post("/graphql", json=body, headers=headers) for _ in range(2)
        ]
        assert repeat.status_code == first.status_code == 200
        assert repeat.headers["content-type"] == first.headers["content-type"]
        assert accept in repeat.headers["content-type"]
        assert repeat.content == first.content


async def test_expensive_reads_are_never_answered_as_repeats(tenant, data, monkeypatch):
    """A read the preflight bills as expensive holds one of the workspace's few slots while it
    runs (api/preflight.py); its exact repeat must take that slot again, so it always goes
    through the whole pipeline instead of being answered from its plan."""
    # An exact count over every contact, weighted by ten search words: 11,000 rows billed,
    # past LEADGRAPH_EXPENSIVE_QUERY_COST (10,000).
    query = '{ contacts(search: "a b c d e f g h i j") { totalCount } }'
    assert await pipelines_of_repeat(tenant, monkeypatch, query) == 1


async def pipelines_of_repeat(tenant, monkeypatch, query: str) -> int:
    """How many times strawberry's pipeline ran for an exact repeat of `query` (asked once
    before), whose answer must equal the first one."""
    first = await tenant.gql(query)
    pipelines = []
    execute = StrawberrySchema.execute

    async def counted(self, *args, **kwargs):
        pipelines.append(args)
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(StrawberrySchema, "execute", counted)
    assert await tenant.gql(query) == first
    return len(pipelines)


async def test_selections_that_need_no_rows_compile(tenant, data):
    """`accounts { __typename }` and an alias mix of such fields with real lists compile to a
    statement whose parameters all appear in it (both drivers refuse unused ones)."""
    answer = await tenant.gql(
        "{ a: accounts { __typename } b: contacts(first: 1) { totalCount } c: leads { __typename } }"
    )
    assert answer["a"] == {"__typename": "AccountConnection"}
    assert answer["c"] == {"__typename": "LeadConnection"}
    assert answer["b"]["totalCount"] >= 1
    query = (
        "query($first: Int, $after: String, $last: Int, $before: String, $filter: AccountFilter, "
        "$orderBy: [AccountOrder!], $search: String) { accounts(first: $first, after: $after, "
        "last: $last, before: $before, filter: $filter, orderBy: $orderBy, search: $search) "
        "{ __typename } }"
    )
    nulls = dict.fromkeys(["first", "after", "last", "before", "filter", "orderBy", "search"])
    assert await tenant.gql(query, nulls) == {"accounts": {"__typename": "AccountConnection"}}
