"""The compiler answers scores (every rule kind, decay, caps, stored and recomputed
contributions, reasons), scoring models, account rollups and webhooks exactly as strawberry
does, in one statement, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from scoring_helpers import make_model
from test_compiler import first_difference, reference
from tortoise import connections

from models import Role
from models.webhooks import WebhookDelivery

DIRECTOR = {"contact": {"jobTitle": {"contains": "director"}}}
BIG_ACCOUNT = {"account": {"numberOfEmployees": {"gt": 500}}}
EVERY_KIND = [
    {"leadMatches": DIRECTOR, "points": 10},
    {"leadMatches": BIG_ACCOUNT, "points": -4},
    {"interactionType": "EMAIL_CLICKED", "points": 5, "metadataContains": {"campaign": "spring"}},
    {"interactionType": "FORM_SUBMITTED", "points": 20, "halfLifeDays": 10, "maxPoints": 30},
    {"interactionType": "EMAIL_OPENED", "points": 2, "maxPoints": 5},
    {"interactionType": "PAGE_VISITED", "points": 1, "withinDays": 2},
    {"interactionType": "MEETING", "points": 15, "frequency": "AT_LEAST", "minCount": 2},
    {"interactionType": "UNSUBSCRIBED", "points": 3, "frequency": "NONE"},
    {"interactionType": "EMAIL_BOUNCED", "points": -5, "maxPoints": 7},
]
RULE = "interactionType frequency minCount points maxPoints withinDays halfLifeDays leadMatches metadataContains"
MODEL = f"__typename id name primary active salesReadyThreshold appliesTo createdAt updatedAt rules {{ {RULE} }} grades {{ label minScore }}"
SCORES = f"{{ leads {{ edges {{ node {{ id topic score grade salesReady scores {{ __typename score grade salesReady model {{ {MODEL} }} breakdown {{ count points reason rule {{ {RULE} }} }} }} }} }} }} }}"
ROLLUP = "contacts leads openLeads salesReadyLeads qualifiedLeads score { sum avg min max } interactions recent: interactions(sinceDays: 2) all: interactions(sinceDays: 36600)"
ROLLUPS = f"{{ accounts {{ edges {{ node {{ name rollup {{ {ROLLUP} }} own: rollup(includeChildAccounts: false) {{ {ROLLUP} none: interactions(sinceDays: 0) }} childAccounts {{ edges {{ node {{ name rollup {{ leads contacts score {{ avg }} }} }} }} }} }} }} }} }}"
DELIVERY = (
    "__typename id eventId event status attempts lastStatusCode lastError createdAt deliveredAt"
)
WEBHOOKS = f"{{ webhooks {{ __typename id url events active createdAt deliveries {{ pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ {DELIVERY} }} }} }} two: deliveries(first: 2) {{ pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ eventId }} }} }} none: deliveries(first: 0) {{ __typename pageInfo {{ hasNextPage startCursor endCursor }} edges {{ cursor }} }} }} }}"


async def _id(tenant, name: str, input: dict, key: str) -> str:
    result = await tenant.mutate(name, input, f"{key} {{ id }}")
    assert result["userErrors"] == [], result
    return result[key]["id"]


async def _record(tenant, days_ago: float, **input) -> None:
    at = (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0)
    result = await tenant.mutate(
        "recordInteraction", {"occurredAt": at.isoformat(), **input}, "interaction { id }"
    )
    assert result["userErrors"] == [], result


@pytest.fixture
async def scored(tenant):
    """An account tree (Root > Kid > Grand, and Lone), contacts and leads on each, a sales-only
    lead, interactions for every rule kind, three extra models (one primary with every rule kind,
    one with entry criteria, one inactive) and two webhooks with deliveries."""
    await make_model(tenant, name="Every kind", rules=EVERY_KIND, threshold=12, primary=True)
    await make_model(
        tenant,
        name="Big only",
        primary=False,
        rules=[{"interactionType": "FORM_SUBMITTED", "points": 7}, EVERY_KIND[0]],
        grades=[{"label": "x", "minScore": 1}],
    )
    await tenant.mutate(
        "createScoringModel",
        {
            "name": "Entry",
            "salesReadyThreshold": 1,
            "rules": [{"interactionType": "MEETING", "points": 3}],
            "grades": [],
            "appliesTo": BIG_ACCOUNT,
        },
        "scoringModel { id }",
    )
    await make_model(tenant, name="Off", active=False, primary=False)
    root = await _id(tenant, "createAccount", {"name": "Root", "numberOfEmployees": 900}, "account")
    kid = await _id(
        tenant,
        "createAccount",
        {"name": "Kid", "parentAccountId": root, "annualRevenue": 2.5},
        "account",
    )
    grand = await _id(tenant, "createAccount", {"name": "Grand", "parentAccountId": kid}, "account")
    lone = await _id(tenant, "createAccount", {"name": "Lone"}, "account")
    leads = []
    for n, (account, title) in enumerate(
        [
            (root, "Sales Director"),
            (root, "Engineer"),
            (kid, "IT director"),
            (grand, None),
            (lone, "Director"),
        ]
    ):
        contact = await _id(
            tenant,
            "createContact",
            {"lastName": f"C{n}", "jobTitle": title, "accountId": account},
            "contact",
        )
        leads.append(
            await _id(tenant, "createLead", {"topic": f"T{n}", "contactId": contact}, "lead")
        )
    solo = await _id(
        tenant, "createLead", {"topic": "Solo", "companyName": "Indie", "accountId": grand}, "lead"
    )
    first, second, third, _, fifth = leads
    await _record(tenant, 0.5, leadId=first, type="EMAIL_CLICKED", metadata={"campaign": "spring"})
    await _record(tenant, 1.5, leadId=first, type="EMAIL_CLICKED", metadata={"campaign": "fall"})
    for days in (0.25, 4, 13):  # decayed: 20 * (0.5^0.025 + 0.5^0.4 + 0.5^1.3), capped at 30
        await _record(tenant, days, leadId=first, type="FORM_SUBMITTED")
    for days in (0.1, 0.2, 0.3, 5):  # 4 × 2 capped at 5
        await _record(tenant, days, leadId=second, type="EMAIL_OPENED")
    await _record(tenant, 1, leadId=second, type="PAGE_VISITED")
    await _record(tenant, 3, leadId=second, type="PAGE_VISITED")  # outside withinDays
    await _record(tenant, 1, leadId=third, type="MEETING")
    await _record(tenant, 6, leadId=third, type="MEETING")
    await _record(tenant, 1, leadId=third, type="UNSUBSCRIBED")
    await _record(tenant, 3, leadId=fifth, type="EMAIL_BOUNCED")
    await _record(tenant, 1, leadId=fifth, type="EMAIL_BOUNCED")
    await _record(tenant, 0.5, leadId=solo, type="MEETING")
    await _record(tenant, 40, leadId=solo, type="FORM_SUBMITTED")
    await tenant.gql(
        "mutation($i: LeadTransitionInput!) { acceptLead(input: $i) { lead { id } } }",
        {"i": {"leadId": second, "reason": "hot"}},
    )
    await tenant.mutate("qualifyLead", {"leadId": third, "opportunityName": "Deal"}, "lead { id }")
    hooks = []
    for url, events in (
        ("https://93.184.216.34/a", ["SCORE_CHANGED", "LEAD_SALES_READY"]),
        ("https://93.184.216.34/b", ["RECORD_CHANGED"]),
    ):
        result = await tenant.mutate(
            "createWebhook", {"url": url, "events": events}, "webhook { id }"
        )
        hooks.append(result["webhook"]["id"])
    from strawberry.relay import GlobalID

    hook_id = int(GlobalID.from_id(hooks[0]).node_id)
    now = datetime.now(UTC).replace(microsecond=123456)
    for n, (status, code, error) in enumerate(
        [("DELIVERED", 200, None), ("FAILED", 500, "Server error"), ("PENDING", None, "timeout")]
    ):
        await WebhookDelivery.create(
            webhook_id=hook_id,
            event_id=f"evt_{n}",
            event="SCORE_CHANGED",
            payload={"n": n},
            status=status,
            attempts=n + 1,
            last_status_code=code,
            last_error=error,
            delivered_at=now if status == "DELIVERED" else None,
            next_attempt_at=now,
        )
    return {"leads": leads, "solo": solo, "webhooks": hooks}


async def _same(tenant, settings, count_statements, query, variables=None):
    count_statements.statements.clear()
    fast = await tenant.gql(query, variables)
    assert len(count_statements.statements) == 1, "the compiler should have answered"
    expected = await reference(tenant, settings, query, variables)
    assert fast == expected, first_difference(fast, expected)
    return fast


async def test_scores_with_every_rule_kind(tenant, scored, settings, count_statements):
    """Lead.scores with its breakdown (stored contributions: decay, caps, attribute and
    metadata rules, AT_LEAST, NONE, withinDays) and reasons: strawberry's answer, one statement,
    and the same again when the repeat is answered from its plan."""
    answer = await _same(tenant, settings, count_statements, SCORES)
    count_statements.statements.clear()
    assert await tenant.gql(SCORES) == answer
    assert len(count_statements.statements) == 1
    reasons = {
        b["reason"]
        for edge in answer["leads"]["edges"]
        for s in edge["node"]["scores"]
        for b in s["breakdown"]
    }
    # the fixture reaches every kind of rule
    assert "contact.jobTitle contains 'director'" in reasons
    assert any("decayed, half-life 10 days" in r for r in reasons)
    assert any("capped at 5" in r for r in reasons)
    assert any("(at least 2)" in r for r in reasons)
    assert any(r.startswith("no UNSUBSCRIBED") for r in reasons)
    assert 'EMAIL_CLICKED with {"campaign":"spring"}' in " ".join(reasons)
    models = {s["model"]["name"] for e in answer["leads"]["edges"] for s in e["node"]["scores"]}
    assert "Off" not in models and {"Every kind", "Big only", "Entry"} <= models


async def test_recomputed_contributions_when_none_are_stored(
    tenant, scored, settings, count_statements
):
    """Rows scored before `contributions` existed (NULL), or holding a list of another length
    than the rules: the breakdown is recomputed from the counts (a decayed rule adds 0 then),
    in SQL as in Python."""
    conn = connections.get("default")
    await conn.execute_query("UPDATE lead_score SET contributions = NULL WHERE id % 2 = 0")
    await conn.execute_query(
        "UPDATE lead_score SET contributions = '[1]' WHERE id % 2 = 1 AND id % 3 = 0"
    )
    await _same(tenant, settings, count_statements, SCORES)


async def test_scoring_models_with_rules_and_entry_criteria(
    tenant, scored, settings, count_statements
):
    """scoringModels: every rule field (JSON ones included), grades and appliesTo."""
    answer = await _same(tenant, settings, count_statements, f"{{ scoringModels {{ {MODEL} }} }}")
    entry = next(m for m in answer["scoringModels"] if m["name"] == "Entry")
    assert entry["appliesTo"] == BIG_ACCOUNT


async def test_scores_in_fragments_cost_one_statement(tenant, scored, settings, count_statements):
    """An Apollo-style read of scores and rollups, one fragment per type."""
    query = """query Board { leads(first: 10) { edges { node { ...Lead } } } accounts { edges { node { ...Account } } } }
    fragment Lead on Lead { __typename id scores { ...Score } }
    fragment Score on LeadScore { __typename score model { ...Model } breakdown { ...Part } }
    fragment Model on ScoringModel { __typename id name rules { ...Rule } }
    fragment Rule on ScoringRule { __typename points leadMatches halfLifeDays }
    fragment Part on ScoreContribution { __typename points count reason rule { ...Rule } }
    fragment Account on Account { __typename name rollup { ...Rollup } }
    fragment Rollup on AccountRollup { __typename leads score { __typename avg } interactions(sinceDays: 10) }"""
    await _same(tenant, settings, count_statements, query)


async def test_rollups_over_an_account_tree(tenant, scored, settings, count_statements):
    """Account.rollup over the tree below each account (and its own totals), nested under
    childAccounts too: strawberry's answer in one statement."""
    answer = await _same(tenant, settings, count_statements, ROLLUPS)
    by_name = {e["node"]["name"]: e["node"] for e in answer["accounts"]["edges"]}
    assert by_name["Root"]["rollup"]["leads"] == 5  # its two, Kid's one, Grand's two
    assert by_name["Root"]["own"]["leads"] == 2
    assert by_name["Root"]["rollup"]["score"]["avg"] is not None


async def test_rollup_with_a_bad_since_days_is_strawberrys_error(tenant, scored):
    """An out-of-range sinceDays declines; strawberry reports BAD_USER_INPUT as before."""
    body = (
        await tenant.post(
            "{ accounts { edges { node { rollup { interactions(sinceDays: -1) } } } } }"
        )
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_webhooks_and_their_deliveries(tenant, scored, settings, count_statements):
    """webhooks with deliveries (default page, a short page, an empty page), newest first,
    then page by page after each cursor (the preflight takes delivery cursors now): strawberry's
    answers, one statement each."""
    answer = await _same(tenant, settings, count_statements, WEBHOOKS)
    assert [len(w["deliveries"]["edges"]) for w in answer["webhooks"]] == [3, 0]
    newest = answer["webhooks"][0]["two"]["edges"]
    assert [e["node"]["eventId"] for e in newest] == ["evt_2", "evt_1"]
    query = "query($after: String) { webhooks { deliveries(first: 1, after: $after) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { eventId } } } } }"
    after, seen = None, []
    while True:
        page = await _same(tenant, settings, count_statements, query, {"after": after})
        page = page["webhooks"][0]["deliveries"]
        seen += [e["node"]["eventId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["evt_2", "evt_1", "evt_0"]


async def test_webhooks_stay_admin_only_and_out_of_node(tenant, scored, settings):
    """Other roles get FORBIDDEN for webhooks; node/nodes answer null for Webhook IDs on both
    paths (webhooks are for admins, node is for every reader)."""
    for role in (Role.READ_ONLY, Role.SALES, Role.MARKETING):
        body = (await tenant.post("{ webhooks { id } }", role=role)).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    query = "query($id: ID!, $ids: [ID!]!) { node(id: $id) { __typename id } nodes(ids: $ids) { __typename id } }"
    variables = {"id": scored["webhooks"][0], "ids": scored["webhooks"]}
    fast = await tenant.gql(query, variables)
    assert fast == {"node": None, "nodes": [None, None]}
    assert fast == await reference(tenant, settings, query, variables)
