"""leadStats, contactStats, interactionStats: every dimension and aggregate against counts the
test computes itself from the rows it created, in one SQL statement each."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from strawberry import relay

from models import (
    Account,
    Contact,
    Interaction,
    InteractionType,
    Lead,
    LeadScore,
    LeadStatus,
    Role,
    ScoringModel,
)

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def gid(type_name: str, pk: int) -> str:
    return str(relay.GlobalID(type_name, str(pk)))


async def primary_model(workspace_id: int) -> ScoringModel:
    return await ScoringModel.get(workspace_id=workspace_id, primary=True)


async def seed_leads(workspace_id: int) -> list[dict]:
    """Leads with varied status, source, topic, readiness, account and primary-model score
    (some without a score row); returns what the test knows about each."""
    model = await primary_model(workspace_id)
    a1 = await Account.create(workspace_id=workspace_id, name="Alpha")
    a2 = await Account.create(workspace_id=workspace_id, name="Beta")
    specs = [
        # status, source, topic, ready, account, score (None: no lead_score row), grade
        (LeadStatus.NEW, "web", "Solar", False, a1, 5, "D"),
        (LeadStatus.NEW, "web", "Solar", False, a1, -7, None),
        (LeadStatus.NEW, None, "Wind", True, a2, 40, "B"),
        (LeadStatus.SALES_READY, "fair", "Solar", True, a2, 31, "B"),
        (LeadStatus.SALES_READY, "fair", "Wind", True, None, 50, "A"),
        (LeadStatus.QUALIFIED, "web", "Solar", False, None, None, None),
        (LeadStatus.DISQUALIFIED, None, "Heat", False, a1, 0, "D"),
    ]
    known = []
    for i, (status, source, topic, ready, account, score, grade) in enumerate(specs):
        lead = await Lead.create(
            workspace_id=workspace_id,
            topic=topic,
            source=source,
            status=status,
            sales_ready=ready,
            account_id=account.id if account else None,
            last_name=f"L{i}",
            score=score or 0,
            grade=grade,
            created_at=T0 + timedelta(days=20 * i),
        )
        if score is not None:
            await LeadScore.create(
                workspace_id=workspace_id,
                lead_id=lead.id,
                model_id=model.id,
                score=score,
                grade=grade,
            )
        known.append(
            {
                "id": lead.id,
                "status": status.value,
                "source": source,
                "topic": topic,
                "salesReady": ready,
                "account": gid("Account", account.id) if account else None,
                "score": score,
                "grade": grade if score is not None else None,
                "createdAt": T0 + timedelta(days=20 * i),
            }
        )
    return known


def expected_aggregate(leads: list[dict]) -> dict:
    scores = [lead["score"] for lead in leads if lead["score"] is not None]
    return {
        "count": len(leads),
        "score": {
            "sum": sum(scores) if scores else None,
            "avg": sum(scores) / len(scores) if scores else None,
            "min": min(scores) if scores else None,
            "max": max(scores) if scores else None,
        },
    }


LEAD_STATS = """query($g: [LeadDimension!], $f: LeadFilter, $s: String, $i: TimeInterval,
  $tz: String, $m: ID) {
  leadStats(groupBy: $g, filter: $f, search: $s, interval: $i, timeZone: $tz, modelId: $m) {
    total { count score { sum avg min max } }
    groups { key { status source topic grade salesReady account { id } createdAt }
             aggregate { count score { sum avg min max } } }
  }
}"""


def key_of(group: dict, dims: list[str]) -> tuple:
    key = group["key"]
    return tuple((key["account"] or {}).get("id") if d == "account" else key[d] for d in dims)


DIMENSIONS = {
    "STATUS": "status",
    "SOURCE": "source",
    "TOPIC": "topic",
    "GRADE": "grade",
    "SALES_READY": "salesReady",
    "ACCOUNT": "account",
}


@pytest.mark.parametrize(
    "group_by",
    [
        ["STATUS"],
        ["SOURCE"],
        ["TOPIC"],
        ["GRADE"],
        ["SALES_READY"],
        ["ACCOUNT"],
        ["STATUS", "GRADE"],
    ],
)
async def test_lead_stats_every_dimension(tenant, count_statements, group_by):
    """Each dimension (and a pair) groups exactly like the test's own grouping of the rows,
    null keys included, with count and score sum/avg/min/max per group and in total, in one
    SQL statement."""
    leads = await seed_leads(tenant.workspace.id)
    count_statements.statements.clear()
    data = (await tenant.gql(LEAD_STATS, {"g": group_by}))["leadStats"]
    statements = [s for s in count_statements.statements if "account" not in s.lower()[:40]]
    dims = [DIMENSIONS[d] for d in group_by]
    expected = defaultdict(list)
    for lead in leads:
        expected[tuple(lead[d] for d in dims)].append(lead)
    got = {key_of(g, dims): g["aggregate"] for g in data["groups"]}
    assert got == {k: expected_aggregate(v) for k, v in expected.items()}
    assert data["total"] == expected_aggregate(leads)
    # the grouped statement builds the account keys too (the read compiler)
    assert len(count_statements.statements) == 1, statements


async def test_lead_stats_groups_are_ordered_with_empty_keys_last(tenant):
    """Groups come ordered by key: statuses in lifecycle order, null keys last."""
    await seed_leads(tenant.workspace.id)
    data = (await tenant.gql(LEAD_STATS, {"g": ["STATUS"]}))["leadStats"]
    assert [g["key"]["status"] for g in data["groups"]] == [
        "NEW",
        "SALES_READY",
        "QUALIFIED",
        "DISQUALIFIED",
    ]
    sources = [
        g["key"]["source"]
        for g in (await tenant.gql(LEAD_STATS, {"g": ["SOURCE"]}))["leadStats"]["groups"]
    ]
    assert sources == ["fair", "web", None]


async def test_lead_stats_filter_search_and_empty_results(tenant):
    """Filters and search narrow the rows like the list does; no match is a zero total with
    null score statistics and no groups."""
    leads = await seed_leads(tenant.workspace.id)
    f = {"topic": {"eq": "Solar"}, "score": {"gte": 0}}
    data = (await tenant.gql(LEAD_STATS, {"g": ["SOURCE"], "f": f}))["leadStats"]
    chosen = [x for x in leads if x["topic"] == "Solar" and (x["score"] or 0) >= 0]
    assert data["total"] == expected_aggregate(chosen)
    listed = await tenant.gql(
        '{ leads(filter: {topic: {eq: "Solar"}, score: {gte: 0}}) { totalCount } }'
    )
    assert listed["leads"]["totalCount"] == data["total"]["count"]

    data = (await tenant.gql(LEAD_STATS, {"s": "wind"}))["leadStats"]
    assert data["total"] == expected_aggregate([x for x in leads if x["topic"] == "Wind"])

    data = (await tenant.gql(LEAD_STATS, {"g": ["STATUS"], "f": {"topic": {"eq": "none"}}}))[
        "leadStats"
    ]
    assert data == {
        "total": {"count": 0, "score": {"sum": None, "avg": None, "min": None, "max": None}},
        "groups": [],
    }


async def test_lead_stats_under_another_model(tenant):
    """`modelId` takes scores and grades from that model's lead_score rows; a model of another
    workspace or an unknown one is BAD_USER_INPUT."""
    leads = await seed_leads(tenant.workspace.id)
    other = await ScoringModel.create(
        workspace_id=tenant.workspace.id, name="Other", sales_ready_threshold=10, primary=False
    )
    for i, lead in enumerate(leads[:3]):
        await LeadScore.create(
            workspace_id=tenant.workspace.id,
            lead_id=lead["id"],
            model_id=other.id,
            score=100 + i,
            grade="X",
        )
    data = (await tenant.gql(LEAD_STATS, {"g": ["GRADE"], "m": gid("ScoringModel", other.id)}))[
        "leadStats"
    ]
    assert data["total"]["count"] == len(leads)
    assert data["total"]["score"] == {"sum": 303, "avg": 101.0, "min": 100, "max": 102}
    assert {g["key"]["grade"]: g["aggregate"]["count"] for g in data["groups"]} == {
        "X": 3,
        None: len(leads) - 3,
    }
    response = await tenant.post(LEAD_STATS, {"m": gid("ScoringModel", other.id + 1000)})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_lead_stats_created_at_buckets(tenant):
    """CREATED_AT buckets by MONTH (default), WEEK (ISO Mondays), QUARTER and YEAR in UTC."""
    leads = await seed_leads(tenant.workspace.id)
    for interval, start in [
        (None, lambda d: d.replace(day=1)),
        ("MONTH", lambda d: d.replace(day=1)),
        ("WEEK", lambda d: d - timedelta(days=d.weekday())),
        ("QUARTER", lambda d: d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)),
        ("YEAR", lambda d: d.replace(month=1, day=1)),
    ]:
        data = (await tenant.gql(LEAD_STATS, {"g": ["CREATED_AT"], "i": interval}))["leadStats"]
        expected = Counter(
            start(x["createdAt"].replace(hour=0, minute=0)).isoformat() for x in leads
        )
        got = {g["key"]["createdAt"]: g["aggregate"]["count"] for g in data["groups"]}
        assert got == dict(expected), interval
        assert [g["key"]["createdAt"] for g in data["groups"]] == sorted(got)


async def test_day_buckets_in_berlin_across_the_spring_dst_change(tenant):
    """Europe/Berlin switches to summer time on Sunday 29 March 2026 at 02:00 (a 23-hour day):
    times are bucketed by the local day, the bucket of that day starts at +01:00 and the next
    day's at +02:00; in UTC the same rows fall into other days."""
    contact = await Contact.create(workspace_id=tenant.workspace.id, last_name="Zeit")
    moments = [
        datetime(2026, 3, 28, 22, 59, tzinfo=UTC),  # Sat 23:59 in Berlin
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # Sun 00:00 (+01:00)
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # Sun 01:59 (+01:00)
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Sun 03:00 (+02:00)
        datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # Sun 23:59 (+02:00)
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # Mon 00:00 (+02:00)
    ]
    for moment in moments:
        await Interaction.create(
            workspace_id=tenant.workspace.id,
            type=InteractionType.PAGE_VISITED,
            occurred_at=moment,
            contact_id=contact.id,
        )
    query = """query($tz: String) { interactionStats(groupBy: [OCCURRED_AT], interval: DAY,
      timeZone: $tz) { count groups { key { occurredAt } count } } }"""
    berlin = ZoneInfo("Europe/Berlin")
    expected = Counter(m.astimezone(berlin).replace(hour=0, minute=0, tzinfo=None) for m in moments)
    data = (await tenant.gql(query, {"tz": "Europe/Berlin"}))["interactionStats"]
    got = {g["key"]["occurredAt"]: g["count"] for g in data["groups"]}
    assert got == {
        "2026-03-28T00:00:00+01:00": 1,
        "2026-03-29T00:00:00+01:00": 4,
        "2026-03-30T00:00:00+02:00": 1,
    }
    assert got == {d.replace(tzinfo=berlin).isoformat(): n for d, n in expected.items()}
    utc = (await tenant.gql(query, {"tz": None}))["interactionStats"]
    assert {g["key"]["occurredAt"]: g["count"] for g in utc["groups"]} == {
        "2026-03-28T00:00:00+00:00": 2,
        "2026-03-29T00:00:00+00:00": 4,
    }


async def test_bad_time_zone_is_bad_user_input(tenant):
    """An unknown IANA zone name is BAD_USER_INPUT naming the zone."""
    await seed_leads(tenant.workspace.id)
    response = await tenant.post(LEAD_STATS, {"g": ["CREATED_AT"], "tz": "Mars/Olympus"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "Mars/Olympus" in error["message"]


async def test_group_limit(http, settings):
    """More groups than LEADGRAPH_MAX_REPORT_GROUPS is BAD_USER_INPUT; exactly that many pass."""
    import dataclasses

    import httpx

    from api.app import create_app
    from models import ApiKey, Workspace

    workspace = await Workspace.create_with_unique_slug("Capped")
    _, key = await ApiKey.issue(workspace_id=workspace.id, role=Role.READ_ONLY, name="r")
    for topic in ("a", "b", "c"):
        await Lead.create(workspace_id=workspace.id, topic=topic, last_name="x")
    # A second app on the session's ORM connections (its lifespan would close them).
    capped = create_app(dataclasses.replace(settings, max_report_groups=3))
    transport = httpx.ASGITransport(app=capped)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"Authorization": f"Bearer {key}"}
        query = "{ leadStats(groupBy: [TOPIC]) { groups { key { topic } } } }"
        body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert len(body["data"]["leadStats"]["groups"]) == 3
        await Lead.create(workspace_id=workspace.id, topic="d", last_name="x")
        body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "More than 3 groups" in body["errors"][0]["message"]


async def test_contact_stats(tenant, count_statements):
    """contactStats by ACCOUNT, JOB_TITLE and CREATED_AT (with search), counted like the
    test counts its rows, in one statement for scalar keys."""
    ws = tenant.workspace.id
    a = await Account.create(workspace_id=ws, name="Acme")
    rows = [
        ("Ann", "CEO", a.id, T0),
        ("Bob", "CEO", None, T0 + timedelta(days=40)),
        ("Cid", None, a.id, T0 + timedelta(days=41)),
        ("Dan", "CTO", a.id, T0 + timedelta(days=80)),
    ]
    for name, title, account_id, created in rows:
        await Contact.create(
            workspace_id=ws,
            last_name=name,
            job_title=title,
            account_id=account_id,
            created_at=created,
        )
    query = """query($g: [ContactDimension!], $s: String) { contactStats(groupBy: $g, search: $s)
      { count groups { key { account { name } jobTitle createdAt } count } } }"""
    count_statements.statements.clear()
    data = (await tenant.gql(query, {"g": ["JOB_TITLE", "CREATED_AT"]}))["contactStats"]
    assert len(count_statements.statements) == 1
    expected = Counter((t, c.replace(day=1, hour=0).isoformat()) for _, t, _, c in rows)
    got = {(g["key"]["jobTitle"], g["key"]["createdAt"]): g["count"] for g in data["groups"]}
    assert got == dict(expected) and data["count"] == len(rows)
    data = (await tenant.gql(query, {"g": ["ACCOUNT"]}))["contactStats"]
    got = {(g["key"]["account"] or {}).get("name"): g["count"] for g in data["groups"]}
    assert got == {"Acme": 3, None: 1}
    data = (await tenant.gql(query, {"g": [], "s": "acme"}))["contactStats"]
    assert data == {"count": 3, "groups": []}


async def test_interaction_stats_with_contact_and_lead_filters(tenant, count_statements):
    """interactionStats by TYPE, CONTACT and LEAD; InteractionFilter's new `contact` and `lead`
    conditions narrow the rows (and also apply to nested interaction lists)."""
    ws = tenant.workspace.id
    c1 = await Contact.create(workspace_id=ws, last_name="One", job_title="CEO")
    c2 = await Contact.create(workspace_id=ws, last_name="Two")
    lead = await Lead.create(workspace_id=ws, topic="Solar", contact_id=c1.id)
    rows = [
        (InteractionType.EMAIL_OPENED, c1.id, None),
        (InteractionType.EMAIL_OPENED, c1.id, lead.id),
        (InteractionType.MEETING, c1.id, lead.id),
        (InteractionType.EMAIL_OPENED, c2.id, None),
        (InteractionType.PAGE_VISITED, c2.id, None),
    ]
    for kind, contact_id, lead_id in rows:
        await Interaction.create(
            workspace_id=ws, type=kind, occurred_at=T0, contact_id=contact_id, lead_id=lead_id
        )
    query = """query($g: [InteractionDimension!], $f: InteractionFilter) {
      interactionStats(groupBy: $g, filter: $f) {
        count groups { key { type contact { id } lead { id } } count } } }"""
    count_statements.statements.clear()
    data = (await tenant.gql(query, {"g": ["TYPE"]}))["interactionStats"]
    assert len(count_statements.statements) == 1
    assert {g["key"]["type"]: g["count"] for g in data["groups"]} == dict(
        Counter(k.value for k, _, _ in rows)
    )
    data = (await tenant.gql(query, {"g": ["CONTACT", "LEAD"]}))["interactionStats"]
    got = {
        (g["key"]["contact"]["id"], (g["key"]["lead"] or {}).get("id")): g["count"]
        for g in data["groups"]
    }
    expected = Counter(
        (gid("Contact", c), gid("Lead", lead_id) if lead_id else None) for _, c, lead_id in rows
    )
    assert got == dict(expected)
    f = {"contact": {"jobTitle": {"eq": "CEO"}}}
    assert (await tenant.gql(query, {"f": f}))["interactionStats"]["count"] == 3
    f = {"lead": {"topic": {"eq": "Solar"}}, "type": {"eq": "MEETING"}}
    assert (await tenant.gql(query, {"f": f}))["interactionStats"]["count"] == 1
    nested = await tenant.gql(
        """query($id: ID!) { node(id: $id) { ... on Contact {
          interactions(filter: {lead: {topic: {eq: "Solar"}}}) { totalCount } } } }""",
        {"id": gid("Contact", c1.id)},
    )
    assert nested["node"]["interactions"]["totalCount"] == 2


async def test_stats_see_only_the_callers_workspace_and_every_role_may_read(make_tenant):
    """Another workspace's rows never count, every reading role (READ_ONLY included) may run
    every stats query, and a publishable CAPTURE key may run none."""
    mine = await make_tenant("Mine")
    theirs = await make_tenant("Theirs")
    await seed_leads(theirs.workspace.id)
    contact = await Contact.create(workspace_id=theirs.workspace.id, last_name="T")
    await Interaction.create(
        workspace_id=theirs.workspace.id,
        type=InteractionType.MEETING,
        occurred_at=T0,
        contact_id=contact.id,
    )
    query = """{ leadStats(groupBy: [STATUS]) { total { count } groups { aggregate { count } } }
      contactStats { count } interactionStats(groupBy: [TYPE]) { count groups { count } } }"""
    refused = (await mine.post(query, role=Role.CAPTURE)).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for role in set(Role) - {Role.CAPTURE}:
        data = await mine.gql(query, role=role)
        assert data == {
            "leadStats": {"total": {"count": 0}, "groups": []},
            "contactStats": {"count": 0},
            "interactionStats": {"count": 0, "groups": []},
        }
    foreign = await mine.post(
        "query($m: ID) { leadStats(modelId: $m) { total { count } } }",
        {"m": gid("ScoringModel", (await primary_model(theirs.workspace.id)).id)},
    )
    assert foreign.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
