"""createAccount / updateAccount / deleteAccount: happy paths and every userError code."""

from models import Contact, Lead

ACCOUNT = "account { id name industry website city country parentAccount { name } primaryContact { lastName } }"


async def test_create_read_update_account(tenant):
    created = await tenant.mutate(
        "createAccount", {"name": "  Contoso  ", "industry": "Retail", "city": "Oslo"}, ACCOUNT
    )
    assert created["userErrors"] == []
    account = created["account"]
    assert account["name"] == "Contoso"  # trimmed
    assert account["industry"] == "Retail"

    updated = await tenant.mutate(
        "updateAccount", {"id": account["id"], "city": None, "country": "NO"}, ACCOUNT
    )
    assert updated["userErrors"] == []
    assert updated["account"]["city"] is None  # explicit null clears
    assert updated["account"]["industry"] == "Retail"  # omitted stays
    assert updated["account"]["country"] == "NO"

    data = await tenant.gql(
        "query($id: ID!) { node(id: $id) { ... on Account { name country } } }",
        {"id": account["id"]},
    )
    assert data["node"] == {"name": "Contoso", "country": "NO"}


async def test_required_and_length_errors_are_all_reported(tenant):
    result = await tenant.mutate("createAccount", {"name": " ", "industry": "x" * 101}, ACCOUNT)
    assert result["account"] is None
    assert sorted((e["field"], e["code"]) for e in result["userErrors"]) == [
        (["industry"], "INVALID"),
        (["name"], "INVALID"),
    ]


async def test_unknown_parent_and_primary_contact_are_not_found(tenant, make_tenant):
    other = await make_tenant("Other")
    foreign = await other.mutate("createAccount", {"name": "Foreign"}, "account { id }")
    result = await tenant.mutate(
        "createAccount", {"name": "A", "parentAccountId": foreign["account"]["id"]}, ACCOUNT
    )
    assert result["userErrors"] == [
        {"field": ["parentAccountId"], "message": "No such parent account.", "code": "NOT_FOUND"}
    ]
    contact = await other.mutate("createContact", {"lastName": "X"}, "contact { id }")
    result = await tenant.mutate(
        "createAccount", {"name": "A", "primaryContactId": contact["contact"]["id"]}, ACCOUNT
    )
    assert result["userErrors"][0]["code"] == "NOT_FOUND"
    assert result["userErrors"][0]["field"] == ["primaryContactId"]
    count = await tenant.gql("{ accounts { totalCount } }")
    assert count["accounts"]["totalCount"] == 0  # nothing was written


async def test_an_id_of_another_type_is_not_found(tenant):
    contact = await tenant.mutate("createContact", {"lastName": "X"}, "contact { id }")
    result = await tenant.mutate(
        "updateAccount", {"id": contact["contact"]["id"], "name": "B"}, ACCOUNT
    )
    assert result["userErrors"][0]["code"] == "NOT_FOUND"


async def test_parent_cycle_is_invalid(tenant):
    ids = []
    for name in ["Root", "Child", "Grandchild"]:
        parent = {"parentAccountId": ids[-1]} if ids else {}
        result = await tenant.mutate("createAccount", {"name": name, **parent}, "account { id }")
        ids.append(result["account"]["id"])
    for parent in (ids[2], ids[0]):
        target = ids[0] if parent == ids[2] else ids[0]
        result = await tenant.mutate(
            "updateAccount", {"id": target, "parentAccountId": parent}, ACCOUNT
        )
        assert result["userErrors"][0]["code"] == "INVALID"
        assert result["userErrors"][0]["field"] == ["parentAccountId"]
    data = await tenant.gql(
        "query($id: ID!) { node(id: $id) { ... on Account { parentAccount { name } } } }",
        {"id": ids[0]},
    )
    assert data["node"]["parentAccount"] is None  # unchanged


async def test_delete_account_unlinks_contacts_leads_and_children(tenant):
    parent = (await tenant.mutate("createAccount", {"name": "P"}, "account { id }"))["account"]
    child = await tenant.mutate(
        "createAccount", {"name": "C", "parentAccountId": parent["id"]}, "account { id }"
    )
    contact = await tenant.mutate(
        "createContact", {"lastName": "Doe", "accountId": parent["id"]}, "contact { id }"
    )
    lead = await tenant.mutate(
        "createLead",
        {"topic": "Solar", "contactId": contact["contact"]["id"]},
        "lead { id account { name } }",
    )
    assert lead["lead"]["account"] == {"name": "P"}

    deleted = await tenant.mutate("deleteAccount", {"id": parent["id"]}, "deletedId")
    assert deleted == {"deletedId": parent["id"], "userErrors": []}
    assert await Contact.filter(account_id__isnull=False).count() == 0
    assert await Lead.filter(account_id__isnull=False).count() == 0
    data = await tenant.gql(
        "query($id: ID!) { node(id: $id) { ... on Account { parentAccount { id } } } }",
        {"id": child["account"]["id"]},
    )
    assert data["node"]["parentAccount"] is None

    again = await tenant.mutate("deleteAccount", {"id": parent["id"]}, "deletedId")
    assert again["userErrors"][0]["code"] == "NOT_FOUND"
