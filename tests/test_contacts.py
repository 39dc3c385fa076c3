"""createContact / updateContact / deleteContact, including email rules and lead conversion."""

from models import Interaction, InteractionType

CONTACT = "contact { id firstName lastName fullName email account { name } }"


async def test_create_and_update_contact(tenant):
    account = await tenant.mutate("createAccount", {"name": "Fabrikam"}, "account { id }")
    created = await tenant.mutate(
        "createContact",
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "Ada@Example.com",
            "accountId": account["account"]["id"],
        },
        CONTACT,
    )
    assert created["userErrors"] == []
    assert created["contact"]["fullName"] == "Ada Lovelace"
    assert created["contact"]["account"] == {"name": "Fabrikam"}

    updated = await tenant.mutate(
        "updateContact",
        {"id": created["contact"]["id"], "accountId": None, "firstName": None},
        CONTACT,
    )
    assert updated["contact"]["account"] is None
    assert updated["contact"]["fullName"] == "Lovelace"
    assert updated["contact"]["email"] == "Ada@Example.com"


async def test_email_syntax_and_duplicates_ignoring_case(tenant, make_tenant):
    bad = await tenant.mutate("createContact", {"lastName": "X", "email": "not-an-email"}, CONTACT)
    assert bad["userErrors"][0]["code"] == "INVALID" and bad["userErrors"][0]["field"] == ["email"]

    first = await tenant.mutate("createContact", {"lastName": "A", "email": "a@b.io"}, CONTACT)
    assert first["userErrors"] == []
    dup = await tenant.mutate("createContact", {"lastName": "B", "email": "A@B.IO"}, CONTACT)
    assert dup["contact"] is None
    assert dup["userErrors"][0]["code"] == "DUPLICATE"

    second = await tenant.mutate("createContact", {"lastName": "C", "email": "c@b.io"}, CONTACT)
    clash = await tenant.mutate(
        "updateContact", {"id": second["contact"]["id"], "email": "a@B.io"}, CONTACT
    )
    assert clash["userErrors"][0]["code"] == "DUPLICATE"
    same = await tenant.mutate(
        "updateContact", {"id": first["contact"]["id"], "email": "A@b.io"}, CONTACT
    )
    assert same["userErrors"] == []  # a contact may keep its own address in another case

    other = await make_tenant("Other")
    elsewhere = await other.mutate("createContact", {"lastName": "A", "email": "a@b.io"}, CONTACT)
    assert elsewhere["userErrors"] == []  # unique per workspace only


async def test_last_name_required(tenant):
    result = await tenant.mutate("createContact", {"lastName": ""}, CONTACT)
    assert result["userErrors"] == [
        {"field": ["lastName"], "message": "lastName is required.", "code": "INVALID"}
    ]
    created = await tenant.mutate("createContact", {"lastName": "Z"}, CONTACT)
    cleared = await tenant.mutate(
        "updateContact", {"id": created["contact"]["id"], "lastName": None}, CONTACT
    )
    assert cleared["userErrors"][0]["field"] == ["lastName"]


async def test_delete_contact_keeps_leads_as_sales_only(tenant):
    account = await tenant.mutate("createAccount", {"name": "Northwind"}, "account { id }")
    contact = await tenant.mutate(
        "createContact",
        {
            "firstName": "Grace",
            "lastName": "Hopper",
            "email": "grace@navy.mil",
            "accountId": account["account"]["id"],
        },
        "contact { id }",
    )
    contact_id = contact["contact"]["id"]
    lead = await tenant.mutate(
        "createLead", {"topic": "Solar", "contactId": contact_id}, "lead { id }"
    )
    from strawberry import relay

    db_contact_id = int(relay.GlobalID.from_id(contact_id).node_id)
    await Interaction.create(
        workspace_id=tenant.workspace.id,
        type=InteractionType.EMAIL_OPENED,
        occurred_at="2026-01-01T00:00:00+00:00",
        contact_id=db_contact_id,
    )
    deleted = await tenant.mutate("deleteContact", {"id": contact_id}, "deletedId")
    assert deleted["userErrors"] == []
    assert await Interaction.filter(contact_id=db_contact_id).count() == 0
    data = await tenant.gql(
        "query($id: ID!) { node(id: $id) { ... on Lead { contact { id } firstName lastName email companyName } } }",
        {"id": lead["lead"]["id"]},
    )
    assert data["node"] == {
        "contact": None,
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace@navy.mil",
        "companyName": "Northwind",
    }
