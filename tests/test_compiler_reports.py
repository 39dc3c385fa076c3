"""The read compiler answers the reports, `duplicates` and `changes` exactly as strawberry does:
the same JSON, byte for byte, in one statement (also mixed with other root fields and written
with fragments), and the same typed error when the request is a client error."""

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from test_changes import settle
from test_compiler import (  # noqa: F401 (data: a fixture)
    data,
    first_difference,
    pipelines_of_repeat,
    tokens_without_time,
)

from api.auth import Principal
from api.context import Context
from api.schema import build_schema
from models import Role
from models.changes import Position
from resolvers.compiler import OUTCOMES
from resolvers.compiler.outcomes import RUN_TIME_ERROR, declined
from resolvers.loaders import Loaders

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(days: float) -> str:
    return (NOW + timedelta(days=days)).isoformat()


async def strawberry_answer(tenant, app_settings, query: str, variables: dict | None = None):
    """(data, errors) of the same query through strawberry with the read compiler off."""
    from dataclasses import replace

    plain = replace(app_settings, sql_fast_path=False)
    principal = Principal(tenant.workspace.id, Role.ADMIN, None, "reference")
    context = Context(None, None, principal, plain, Loaders(tenant.workspace.id, plain))
    result = await build_schema(plain).execute(
        query, variable_values=variables, context_value=context
    )
    errors = [(e.message, (e.extensions or {}).get("code")) for e in result.errors or ()]
    return result.data, errors


@pytest.fixture
async def reports_data(tenant, data):  # noqa: F811 (the fixture imported above)
    """test_compiler's data plus likely duplicates, a created-and-updated record, a deleted
    one and a third scoring model's id."""
    for last, email, phone in (("Dup", "same@x.io", "+1 555 0100"), ("Dup", "SAME@x.io", None)):
        await tenant.mutate(
            "createContact", {"lastName": last, "email": email, "phone": phone}, "contact { id }"
        )
    await tenant.mutate(
        "createContact", {"lastName": "Other", "phone": "1-555-0100"}, "contact { id }"
    )
    for name, site in (("Acme Inc.", "https://www.acme.com/about"), ("acme inc", "acme.com")):
        await tenant.mutate("createAccount", {"name": name, "website": site}, "account { id }")
    gone = await tenant.mutate("createAccount", {"name": "Gone"}, "account { id }")
    await tenant.mutate("deleteAccount", {"id": gone["account"]["id"]}, "deletedId")
    models = await tenant.gql("{ scoringModels { id name } }")
    await settle()
    return {m["name"]: m["id"] for m in models["scoringModels"]}


STATS = """query($g: [LeadDimension!], $i: TimeInterval, $tz: String, $m: ID, $f: LeadFilter,
  $s: String) {
  leadStats(groupBy: $g, interval: $i, timeZone: $tz, modelId: $m, filter: $f, search: $s) {
    __typename total { count score { sum avg min max } }
    groups { key { status source topic grade salesReady createdAt account { id name } }
      aggregate { count score { avg sum } } } } }"""
CONTACTS = """query($g: [ContactDimension!], $i: TimeInterval, $tz: String, $s: String) {
  contactStats(groupBy: $g, interval: $i, timeZone: $tz, search: $s) {
    count groups { count key { jobTitle createdAt account { name __typename } } } } }"""
INTERACTIONS = """query($g: [InteractionDimension!], $i: TimeInterval, $tz: String,
  $f: InteractionFilter) {
  interactionStats(groupBy: $g, interval: $i, timeZone: $tz, filter: $f) {
    count groups { key { type occurredAt contact { lastName } lead { topic } } count } } }"""
FUNNEL = """query($from: DateTime!, $to: DateTime!, $f: LeadFilter) {
  leadFunnel(from: $from, to: $to, filter: $f) {
    conversionRate stages { status entered stillThere medianHoursToNext } } }"""
HISTOGRAM = """query($b: Int, $m: ID, $f: LeadFilter) {
  scoreHistogram(bucketSize: $b, modelId: $m, filter: $f) { from to count } }"""
DUPLICATES = """query($t: RecordType!, $n: Int) { duplicates(type: $t, first: $n) {
  reason records { __typename id ... on Contact { email fullName account { name } }
    ... on Account { name website } } } }"""
CHANGES = """query($since: String, $types: [RecordType!], $first: Int) {
  changes(since: $since, types: $types, first: $first) { hasMore nextToken
    changes { kind type id at node { __typename id ... on Account { name }
      ... on Lead { topic contact { id } } ... on Contact { lastName } ... on Interaction { type }
      ... on ScoringModel { name } } } } }"""
MIXED = """query Dashboard($g: [LeadDimension!]) {
  leads(first: 3) { totalCount edges { node { ...LeadRow } } }
  stats: leadStats(groupBy: $g) { ...Stats }
  byDay: leadStats(groupBy: [CREATED_AT], interval: DAY, timeZone: "Asia/Kolkata") { ...Stats }
  contactStats { count }
  scoreHistogram(bucketSize: 5) { ...Bucket }
  duplicates(type: ACCOUNT) { reason records { ... on Node { id } ...AccountName } }
  changes(types: [ACCOUNT], first: 2) { hasMore changes { kind node { ...AccountName } } }
  __typename }
fragment LeadRow on Lead { __typename id topic score }
fragment Stats on LeadStats { total { count ...Figures } groups { key { ... on LeadGroupKey {
  status createdAt } } aggregate { ...Figures } } }
fragment Figures on LeadAggregate { score { max avg } }
fragment Bucket on ScoreBucket { from to count }
fragment AccountName on Account { __typename name }"""

CASES = [
    (STATS, {}),
    (STATS, {"g": ["STATUS"]}),
    (STATS, {"g": ["SOURCE", "TOPIC"], "s": "o"}),
    (STATS, {"g": ["GRADE", "SALES_READY"], "m": "second"}),
    (STATS, {"g": ["ACCOUNT", "STATUS"], "f": {"score": {"gte": 0}}}),
    (STATS, {"g": ["CREATED_AT"]}),
    (STATS, {"g": ["CREATED_AT", "TOPIC"], "i": "DAY", "tz": "Europe/Berlin"}),
    (STATS, {"g": ["CREATED_AT"], "i": "WEEK", "tz": "America/St_Johns"}),
    (STATS, {"g": ["CREATED_AT"], "i": "QUARTER", "tz": "Asia/Kolkata"}),
    (STATS, {"g": ["CREATED_AT"], "i": "YEAR", "tz": "Pacific/Chatham"}),
    (STATS, {"g": ["TOPIC"], "f": {"topic": {"eq": "nothing"}}}),
    (CONTACTS, {"g": ["ACCOUNT", "JOB_TITLE"]}),
    (CONTACTS, {"g": ["CREATED_AT"], "i": "MONTH", "tz": "America/Los_Angeles"}),
    (CONTACTS, {"g": [], "s": "dup"}),
    (INTERACTIONS, {"g": ["TYPE"]}),
    (INTERACTIONS, {"g": ["OCCURRED_AT", "CONTACT", "LEAD"], "i": "DAY", "tz": "Australia/Sydney"}),
    (INTERACTIONS, {"g": ["LEAD"], "f": {"type": {"in": ["PAGE_VISITED", "MEETING"]}}}),
    (FUNNEL, {"from": iso(-1), "to": iso(1)}),
    (FUNNEL, {"from": iso(-30), "to": iso(30), "f": {"topic": {"in": ["Heat", "Solo"]}}}),
    (FUNNEL, {"from": iso(-30), "to": iso(-29)}),
    (HISTOGRAM, {}),
    (HISTOGRAM, {"b": 1}),
    (HISTOGRAM, {"b": 3, "m": "second"}),
    (HISTOGRAM, {"b": 2_000_000_000, "f": {"topic": {"eq": "Heat"}}}),
    (DUPLICATES, {"t": "CONTACT"}),
    (DUPLICATES, {"t": "ACCOUNT", "n": 1}),
    (CHANGES, {}),
    (CHANGES, {"types": ["ACCOUNT", "CONTACT"], "first": 3}),
    (CHANGES, {"types": ["LEAD"], "first": 100}),
    (MIXED, {"g": ["STATUS", "SOURCE"]}),
]


def _with_model(variables: dict, models: dict) -> dict:
    if variables.get("m") == "second":
        return {**variables, "m": models["Second"]}
    return variables


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_reports_and_feeds_answer_as_strawberry(
    tenant, reports_data, settings, count_statements, query, variables
):
    """Each report, duplicates and a page of changes (groupings, intervals in zones with odd
    offsets, filters, another scoring model, fragments, aliases, __typename, mixed with a
    connection): one statement, strawberry's bytes (sync tokens up to their clock second)."""
    variables = _with_model(variables, reports_data)
    count_statements.statements.clear()
    response = await tenant.post(query, variables)
    assert len(count_statements.statements) == 1, count_statements.statements
    body = response.json()
    assert "errors" not in body, body
    expected, errors = await strawberry_answer(tenant, settings, query, variables)
    assert errors == []
    fast, slow = tokens_without_time(body["data"]), tokens_without_time(expected)
    assert fast == slow, first_difference(fast, slow)
    if "nextToken" not in query:
        assert response.content == orjson.dumps({"data": expected})


async def test_changes_pages_and_tokens_agree(tenant, reports_data, settings, count_statements):
    """Paging through the feed two changes at a time with the compiled path's own tokens gives
    strawberry's pages, and the same tokens (up to their clock second), to the end."""
    since, pages = None, 0
    while True:
        variables = {"since": since, "first": 2}
        count_statements.statements.clear()
        page = (await tenant.gql(CHANGES, variables))["changes"]
        assert len(count_statements.statements) == 1
        expected, errors = await strawberry_answer(tenant, settings, CHANGES, variables)
        assert errors == [] and tokens_without_time(page) == tokens_without_time(
            expected["changes"]
        )
        pages += 1
        since = page["nextToken"]
        if not page["hasMore"]:
            break
    assert pages > 3
    assert (await tenant.gql(CHANGES, {"since": since}))["changes"]["changes"] == []


ERRORS = [
    (STATS, {"g": ["CREATED_AT"], "tz": "Mars/Olympus"}, "BAD_USER_INPUT"),
    (STATS, {"m": "U2NvcmluZ01vZGVsOjk5OTk5"}, "BAD_USER_INPUT"),
    (HISTOGRAM, {"b": 0}, "BAD_USER_INPUT"),
    (HISTOGRAM, {"m": "U2NvcmluZ01vZGVsOjk5OTk5"}, "BAD_USER_INPUT"),
    (FUNNEL, {"from": iso(1), "to": iso(-1)}, "BAD_USER_INPUT"),
    (DUPLICATES, {"t": "LEAD"}, "BAD_USER_INPUT"),
    (DUPLICATES, {"t": "CONTACT", "n": 101}, "BAD_USER_INPUT"),
    (CHANGES, {"since": "garbage!"}, "BAD_USER_INPUT"),
    (CHANGES, {"first": 0}, "BAD_USER_INPUT"),
    (CHANGES, {"since": Position(1, 1, NOW - timedelta(days=31)).encode()}, "SYNC_TOKEN_EXPIRED"),
]


@pytest.mark.parametrize(("query", "variables", "code"), ERRORS)
async def test_client_errors_are_strawberrys(
    tenant, reports_data, settings, query, variables, code
):
    """A bad zone, bucket size, period, type, page or token, and a modelId of no model of the
    workspace: the same typed error (message and code) as strawberry's, twice (the second time
    from the cached plan or decline)."""
    expected_data, expected_errors = await strawberry_answer(tenant, settings, query, variables)
    assert expected_errors and expected_errors[0][1] == code
    for _ in range(2):
        body = (await tenant.post(query, variables)).json()
        got = [(e["message"], e["extensions"]["code"]) for e in body["errors"]]
        assert (body["data"], got) == (expected_data, expected_errors)


async def test_limits_found_by_the_statement_fall_back_to_strawberry(http, settings):
    """More groups or buckets than LEADGRAPH_MAX_REPORT_GROUPS are only known to the statement:
    it answers while under the limit, and once past it strawberry reports BAD_USER_INPUT, also
    for an exact repeat of a request the plan answered before (counted as a run-time decline)."""
    import dataclasses

    import httpx

    from api.app import create_app
    from models import ApiKey, Lead, LeadScore, ScoringModel, Workspace

    workspace = await Workspace.create_with_unique_slug("Capped")
    _, key = await ApiKey.issue(workspace_id=workspace.id, role=Role.READ_ONLY, name="r")
    model = await ScoringModel.get(workspace_id=workspace.id, primary=True)
    for topic, score in (("a", 0), ("b", 10), ("c", 20)):
        lead = await Lead.create(workspace_id=workspace.id, topic=topic, last_name="x")
        await LeadScore.create(workspace_id=workspace.id, lead=lead, model=model, score=score)
    capped = create_app(dataclasses.replace(settings, max_report_groups=3))
    transport = httpx.ASGITransport(app=capped)
    stats = "{ leadStats(groupBy: [TOPIC]) { groups { key { topic } } } }"
    histogram = "{ scoreHistogram(bucketSize: 10) { from count } }"
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def post(query: str) -> dict:
            headers = {"Authorization": f"Bearer {key}"}
            return (await client.post("/graphql", json={"query": query}, headers=headers)).json()

        assert len((await post(stats))["data"]["leadStats"]["groups"]) == 3
        assert len((await post(histogram))["data"]["scoreHistogram"]) == 3
        lead = await Lead.create(workspace_id=workspace.id, topic="d", last_name="x")
        await LeadScore.create(workspace_id=workspace.id, lead=lead, model=model, score=30)
        before = OUTCOMES[declined(RUN_TIME_ERROR)]
        for query, message in ((stats, "More than 3 groups"), (histogram, "More than 3 buckets")):
            error = (await post(query))["errors"][0]
            assert error["extensions"]["code"] == "BAD_USER_INPUT" and message in error["message"]
        assert OUTCOMES[declined(RUN_TIME_ERROR)] == before + 2


async def test_a_token_that_expires_after_its_plan_is_refused(tenant, reports_data, settings):
    """The statement checks the token's age against the database's clock: a token valid when
    its plan was compiled and expired since gets SYNC_TOKEN_EXPIRED from strawberry, not a page
    from the cached plan."""
    days = settings.change_retention_days
    issued = datetime.now(UTC) - timedelta(days=days) + timedelta(seconds=2)
    variables = {"since": Position(0, 0, issued).encode(), "first": 1}
    assert (await tenant.gql(CHANGES, variables))["changes"]["hasMore"]
    await asyncio.sleep(3)
    body = (await tenant.post(CHANGES, variables)).json()
    assert body["errors"][0]["extensions"]["code"] == "SYNC_TOKEN_EXPIRED"


async def test_duplicates_are_never_answered_as_repeats(tenant, reports_data, monkeypatch):
    """`duplicates` is always an expensive read (api/cost.py): its exact repeat takes the
    workspace's slot again through the whole pipeline, never the repeat lane."""
    query = "{ duplicates(type: CONTACT) { reason } }"
    assert await pipelines_of_repeat(tenant, monkeypatch, query) == 1


async def test_reports_keep_their_permissions(tenant, reports_data):
    """A publishable CAPTURE key may read none of the reports or feeds (FORBIDDEN, from the
    preflight), as before they were compiled."""
    for query in ("{ leadStats { total { count } } }", "{ changes { hasMore } }"):
        body = (await tenant.post(query, role=Role.CAPTURE)).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
