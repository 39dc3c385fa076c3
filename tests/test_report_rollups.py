"""Account.rollup over three hierarchy levels, against totals the test computes from its own
rows, in a bounded number of statements for a page of 100 accounts."""

from datetime import UTC, datetime, timedelta

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

ROLLUP = """query($children: Boolean, $days: Int) {
  accounts(first: 100) { edges { node { id name
    rollup(includeChildAccounts: $children) {
      contacts leads openLeads salesReadyLeads qualifiedLeads
      score { sum avg min max } interactions(sinceDays: $days) } } } } }"""
OPEN = {LeadStatus.NEW, LeadStatus.SALES_READY, LeadStatus.SALES_ACCEPTED, LeadStatus.NURTURING}


async def build_tree(workspace_id: int) -> dict:
    """Root -> (Child1 -> Grandchild, Child2), and an unrelated Loner; contacts, leads with
    scores (one without), interactions old and recent, a sales-only lead's own interaction."""
    now = datetime.now(UTC)
    model = await ScoringModel.get(workspace_id=workspace_id, primary=True)
    root = await Account.create(workspace_id=workspace_id, name="Root")
    child1 = await Account.create(
        workspace_id=workspace_id, name="Child1", parent_account_id=root.id
    )
    child2 = await Account.create(
        workspace_id=workspace_id, name="Child2", parent_account_id=root.id
    )
    grand = await Account.create(
        workspace_id=workspace_id, name="Grand", parent_account_id=child1.id
    )
    loner = await Account.create(workspace_id=workspace_id, name="Loner")
    parents = {
        root.id: None,
        child1.id: root.id,
        child2.id: root.id,
        grand.id: child1.id,
        loner.id: None,
    }
    facts = {"parents": parents, "contacts": [], "leads": [], "interactions": []}
    plan = {
        root.id: [(LeadStatus.NEW, False, 10), (LeadStatus.QUALIFIED, False, 50)],
        child1.id: [(LeadStatus.SALES_READY, True, 35)],
        child2.id: [(LeadStatus.DISQUALIFIED, False, -5), (LeadStatus.NURTURING, True, None)],
        grand.id: [(LeadStatus.SALES_ACCEPTED, True, 70), (LeadStatus.QUALIFIED, False, 3)],
        loner.id: [(LeadStatus.NEW, False, 99)],
    }
    for n, (account_id, leads) in enumerate(plan.items()):
        contact = await Contact.create(
            workspace_id=workspace_id, last_name=f"C{n}", account_id=account_id
        )
        await Contact.create(workspace_id=workspace_id, last_name=f"D{n}", account_id=account_id)
        facts["contacts"] += [account_id, account_id]
        for status, ready, score in leads:
            lead = await Lead.create(
                workspace_id=workspace_id,
                topic="T",
                status=status,
                sales_ready=ready,
                contact_id=contact.id,
                account_id=account_id,
            )
            if score is not None:
                await LeadScore.create(
                    workspace_id=workspace_id, lead_id=lead.id, model_id=model.id, score=score
                )
            facts["leads"].append((account_id, status, ready, score))
        for days in (1, 10, 45):  # contact-level interactions, recent and old
            await Interaction.create(
                workspace_id=workspace_id,
                type=InteractionType.PAGE_VISITED,
                occurred_at=now - timedelta(days=days),
                contact_id=contact.id,
            )
            facts["interactions"].append((account_id, days))
    sales_only = await Lead.create(
        workspace_id=workspace_id, topic="T", last_name="Solo", account_id=grand.id
    )
    facts["leads"].append((grand.id, LeadStatus.NEW, False, None))
    await Interaction.create(
        workspace_id=workspace_id,
        type=InteractionType.PHONE_CALL,
        occurred_at=now - timedelta(days=2),
        lead_id=sales_only.id,
    )
    facts["interactions"].append((grand.id, 2))
    return facts


def below(parents: dict, account_id: int, include_children: bool) -> set:
    if not include_children:
        return {account_id}
    found = {account_id}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return found


def expected_rollup(facts: dict, account_id: int, include_children: bool, days: int) -> dict:
    tree = below(facts["parents"], account_id, include_children)
    leads = [lead for lead in facts["leads"] if lead[0] in tree]
    scores = [lead[3] for lead in leads if lead[3] is not None]
    return {
        "contacts": sum(1 for a in facts["contacts"] if a in tree),
        "leads": len(leads),
        "openLeads": sum(1 for lead in leads if lead[1] in OPEN),
        "salesReadyLeads": sum(1 for lead in leads if lead[2]),
        "qualifiedLeads": sum(1 for lead in leads if lead[1] is LeadStatus.QUALIFIED),
        "score": {
            "sum": sum(scores) if scores else None,
            "avg": sum(scores) / len(scores) if scores else None,
            "min": min(scores) if scores else None,
            "max": max(scores) if scores else None,
        },
        "interactions": sum(1 for a, d in facts["interactions"] if a in tree and d <= days),
    }


def by_id(data: dict) -> dict:
    return {
        int(relay.GlobalID.from_id(e["node"]["id"]).node_id): e["node"]["rollup"]
        for e in data["accounts"]["edges"]
    }


async def test_rollups_over_three_levels(tenant, make_tenant):
    """Every account's rollup (whole hierarchy below, or itself only) equals the totals
    computed from the rows; another workspace's identical tree adds nothing; READ_ONLY reads."""
    facts = await build_tree(tenant.workspace.id)
    other = await make_tenant("Other")
    await build_tree(other.workspace.id)
    for children, days in ((True, 30), (False, 30), (None, 5), (True, 100)):
        variables = {"children": children, "days": days}
        data = await tenant.gql(ROLLUP, variables, role=Role.READ_ONLY)
        got = by_id(data)
        assert set(got) == set(facts["parents"])
        for account_id, rollup in got.items():
            assert rollup == expected_rollup(facts, account_id, children is not False, days), (
                account_id,
                children,
                days,
            )
    root = next(a for a, p in facts["parents"].items() if p is None)
    assert by_id(await tenant.gql(ROLLUP, {}))[root]["leads"] == 8


async def test_rollup_statements_are_bounded_for_100_accounts(tenant, count_statements, settings):
    """A page of 100 accounts in a 10-level hierarchy with rollups costs the same statements
    as a page of 3: one through the compiled read path; through strawberry, the page, the
    accounts below them (one recursive statement), one aggregate per account of those trees,
    one interaction count."""
    from test_compiler import reference

    ws = tenant.workspace.id
    parent = None
    for i in range(100):
        account = await Account.create(
            workspace_id=ws, name=f"A{i:03}", parent_account_id=parent if i % 10 else None
        )
        parent = account.id
        await Lead.create(workspace_id=ws, topic="T", last_name="x", account_id=account.id)
    query = """query($n: Int) { accounts(first: $n) { edges { node { name
      rollup { leads contacts score { sum } interactions } } } } }"""
    counts = {}
    for n in (3, 100):
        count_statements.statements.clear()
        data = await tenant.gql(query, {"n": n})
        counts[n] = len(count_statements.statements)
        assert len(data["accounts"]["edges"]) == n
        count_statements.statements.clear()
        assert await reference(tenant, settings, query, {"n": n}) == data
        counts[n, "strawberry"] = len(count_statements.statements)
    assert counts[3] == counts[100] == 1, count_statements.statements
    assert counts[3, "strawberry"] == counts[100, "strawberry"] == 4
    first = data["accounts"]["edges"][0]["node"]["rollup"]
    assert first["leads"] == 10  # A000 heads a chain of ten


async def test_rollup_mixes_with_nested_lists_and_refuses_bad_days(tenant):
    """A query mixing rollups with nested connections (which the PostgreSQL fast path would
    otherwise answer) still works; a negative sinceDays is BAD_USER_INPUT."""
    facts = await build_tree(tenant.workspace.id)
    query = """{ accounts(first: 10, orderBy: [{field: NAME}]) { totalCount edges { node { name
      rollup { leads } contacts(first: 1) { edges { node { lastName } } } } } } }"""
    data = await tenant.gql(query)
    names = [e["node"]["name"] for e in data["accounts"]["edges"]]
    assert names == sorted(names) and data["accounts"]["totalCount"] == 5
    for edge in data["accounts"]["edges"]:
        assert len(edge["node"]["contacts"]["edges"]) == 1
    root = next(e["node"] for e in data["accounts"]["edges"] if e["node"]["name"] == "Root")
    root_id = next(
        a for a, p in facts["parents"].items() if p is None and a == min(facts["parents"])
    )
    assert root["rollup"]["leads"] == expected_rollup(facts, root_id, True, 30)["leads"]
    response = await tenant.post(
        "{ accounts(first: 1) { edges { node { rollup { interactions(sinceDays: -1) } } } } }"
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
