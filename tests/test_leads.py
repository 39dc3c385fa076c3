"""createLead / updateLead / deleteLead: contact leads, sales-only leads and their rules."""

LEAD = "lead { id topic source status contact { lastName } account { name } firstName lastName email companyName }"


async def test_lead_takes_its_contacts_account(tenant):
    account = await tenant.mutate("createAccount", {"name": "Tailspin"}, "account { id }")
    contact = await tenant.mutate(
        "createContact",
        {"lastName": "Doe", "accountId": account["account"]["id"]},
        "contact { id }",
    )
    created = await tenant.mutate(
        "createLead",
        {"topic": "Heat pumps", "source": "Web", "contactId": contact["contact"]["id"]},
        LEAD,
    )
    assert created["userErrors"] == []
    assert created["lead"]["status"] == "NEW"
    assert created["lead"]["account"] == {"name": "Tailspin"}
    assert created["lead"]["contact"] == {"lastName": "Doe"}


async def test_sales_only_lead_needs_its_own_details(tenant):
    missing = await tenant.mutate("createLead", {"topic": "Solar"}, LEAD)
    assert missing["userErrors"][0]["code"] == "INVALID"
    assert missing["userErrors"][0]["field"] == ["contactId"]
    created = await tenant.mutate(
        "createLead",
        {"topic": "Solar", "companyName": "Initech", "email": "bill@initech.com"},
        LEAD,
    )
    assert created["userErrors"] == []
    assert created["lead"]["contact"] is None
    assert created["lead"]["companyName"] == "Initech"
    bad_email = await tenant.mutate(
        "updateLead", {"id": created["lead"]["id"], "email": "nope"}, LEAD
    )
    assert bad_email["userErrors"][0] == {
        "field": ["email"],
        "message": "'nope' is not an email address.",
        "code": "INVALID",
    }


async def test_account_must_match_contacts_account(tenant):
    a = await tenant.mutate("createAccount", {"name": "A"}, "account { id }")
    b = await tenant.mutate("createAccount", {"name": "B"}, "account { id }")
    contact = await tenant.mutate(
        "createContact", {"lastName": "Doe", "accountId": a["account"]["id"]}, "contact { id }"
    )
    result = await tenant.mutate(
        "createLead",
        {"topic": "X", "contactId": contact["contact"]["id"], "accountId": b["account"]["id"]},
        LEAD,
    )
    assert result["userErrors"][0]["code"] == "INVALID"
    assert result["userErrors"][0]["field"] == ["accountId"]


async def test_update_and_delete_lead(tenant, make_tenant):
    created = await tenant.mutate("createLead", {"topic": "Solar", "lastName": "Roe"}, LEAD)
    lead_id = created["lead"]["id"]
    updated = await tenant.mutate(
        "updateLead", {"id": lead_id, "topic": "Wind", "source": None}, LEAD
    )
    assert updated["lead"]["topic"] == "Wind"
    required = await tenant.mutate("updateLead", {"id": lead_id, "topic": None}, LEAD)
    assert required["userErrors"][0]["field"] == ["topic"]

    other = await make_tenant("Other")
    foreign = await other.mutate("deleteLead", {"id": lead_id}, "deletedId")
    assert foreign["userErrors"][0]["code"] == "NOT_FOUND"
    deleted = await tenant.mutate("deleteLead", {"id": lead_id}, "deletedId")
    assert deleted["deletedId"] == lead_id
    data = await tenant.gql("query($id: ID!) { node(id: $id) { id } }", {"id": lead_id})
    assert data["node"] is None
