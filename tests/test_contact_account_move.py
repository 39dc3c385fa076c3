"""updateContact moving a contact to an account carries its leads along (a contact's leads belong
to its account), on SQLite and PostgreSQL: their `account` filters and attribute rules see the
new account, and the leads stay valid for updateLead."""

from scoring_helpers import contact_with_leads, lead_state, only_model

BIG_ACCOUNT = {"account": {"numberOfEmployees": {"gte": 500}}}


async def _account(tenant, name, employees):
    result = await tenant.mutate(
        "createAccount", {"name": name, "numberOfEmployees": employees}, "account { id }"
    )
    assert result["userErrors"] == [], result
    return result["account"]["id"]


async def _lead_accounts(tenant, contact_id):
    data = await tenant.gql(
        """query($id: ID!) { node(id: $id) { ... on Contact {
            leads { edges { node { account { id } } } } } } }""",
        {"id": contact_id},
    )
    edges = data["node"]["leads"]["edges"]
    return [e["node"]["account"]["id"] if e["node"]["account"] else None for e in edges]


async def test_leads_follow_their_contact_to_an_account_and_score_on_it(tenant):
    """Leads created before their contact had an account, then moved with it from a big account
    to a small one: each step re-scores them under the account rule, and the lists' `account`
    filter finds them on the contact's current account."""
    await only_model(
        tenant, threshold=100_000, grades=[], rules=[{"leadMatches": BIG_ACCOUNT, "points": 1000}]
    )
    big = await _account(tenant, "Big", 700)
    small = await _account(tenant, "Small", 10)
    contact_id, leads = await contact_with_leads(tenant, topics=["A", "B"])
    assert await _lead_accounts(tenant, contact_id) == [None, None]

    for account, score in ((big, 1000), (small, 0)):
        result = await tenant.mutate(
            "updateContact", {"id": contact_id, "accountId": account}, "contact { id }"
        )
        assert result["userErrors"] == [], result
        assert await _lead_accounts(tenant, contact_id) == [account, account]
        for lead_id in leads:
            assert (await lead_state(tenant, lead_id))["score"] == score
        data = await tenant.gql(
            "query($f: LeadFilter) { leads(filter: $f) { totalCount } }",
            {"f": {"account": {"id": {"eq": account}}}},
        )
        assert data["leads"]["totalCount"] == 2


async def test_a_moved_contacts_lead_can_still_be_updated(tenant):
    """A lead on its contact's old account would fail the lead's own check ("the lead's account
    must be its contact's account") on any later update; moved along, it updates cleanly."""
    first = await _account(tenant, "First", 10)
    second = await _account(tenant, "Second", 10)
    contact = await tenant.mutate(
        "createContact", {"lastName": "Doe", "accountId": first}, "contact { id }"
    )
    contact_id = contact["contact"]["id"]
    lead = await tenant.mutate(
        "createLead", {"topic": "Solar", "contactId": contact_id}, "lead { id account { id } }"
    )
    assert lead["lead"]["account"]["id"] == first
    moved = await tenant.mutate(
        "updateContact", {"id": contact_id, "accountId": second}, "contact { id }"
    )
    assert moved["userErrors"] == [], moved

    result = await tenant.mutate(
        "updateLead",
        {"id": lead["lead"]["id"], "topic": "Wind"},
        "lead { topic account { id } } userErrors { code message }",
    )
    assert result["userErrors"] == [], result
    assert result["lead"] == {"topic": "Wind", "account": {"id": second}}
