"""No N+1: a nested read costs the same number of SQL statements whatever the page sizes."""

from strawberry import relay

from models import Account, Contact, Interaction, InteractionType, Lead

NESTED = """query($a: Int, $c: Int, $l: Int) {
  accounts(first: $a) { edges { node { name
    contacts(first: $c) { edges { node { lastName
      leads(first: $l) { edges { node { topic contact { account { name } } } } }
    } } }
  } } }
}"""


async def seed(workspace_id: int, accounts: int, contacts: int, leads: int) -> None:
    account_rows = [Account(workspace_id=workspace_id, name=f"A{i}") for i in range(accounts)]
    await Account.bulk_create(account_rows)
    account_ids = await Account.filter(workspace_id=workspace_id).values_list("id", flat=True)
    people = [
        Contact(workspace_id=workspace_id, last_name=f"C{a}-{i}", account_id=a)
        for a in account_ids
        for i in range(contacts)
    ]
    await Contact.bulk_create(people)
    contact_rows = await Contact.filter(workspace_id=workspace_id).values("id", "account_id")
    await Lead.bulk_create(
        [
            Lead(
                workspace_id=workspace_id,
                topic=f"T{i}",
                contact_id=c["id"],
                account_id=c["account_id"],
            )
            for c in contact_rows
            for i in range(leads)
        ]
    )


async def run(tenant, count_statements, **sizes) -> tuple[int, dict]:
    count_statements.statements.clear()
    data = await tenant.gql(NESTED, sizes)
    return len(count_statements.statements), data


async def test_statement_count_is_constant_in_page_sizes(tenant, count_statements, settings):
    await seed(tenant.workspace.id, accounts=12, contacts=6, leads=4)
    small, small_data = await run(tenant, count_statements, a=2, c=2, l=1)
    large, large_data = await run(tenant, count_statements, a=12, c=6, l=4)
    assert len(large_data["accounts"]["edges"]) == 12
    contacts = large_data["accounts"]["edges"][0]["node"]["contacts"]["edges"]
    assert len(contacts) == 6
    assert len(contacts[0]["node"]["leads"]["edges"]) == 4
    lead = contacts[0]["node"]["leads"]["edges"][0]["node"]
    assert lead["contact"]["account"]["name"] == large_data["accounts"]["edges"][0]["node"]["name"]
    # the compiled read path builds the whole answer in one statement, on both databases
    assert small == large
    assert large == 1, count_statements.statements


async def test_nested_read_with_counts_and_interactions_is_bounded(
    tenant, count_statements, settings
):
    await seed(tenant.workspace.id, accounts=5, contacts=3, leads=2)
    contact = await Contact.filter(workspace_id=tenant.workspace.id).first()
    lead = await Lead.filter(contact_id=contact.id).first()
    for i in range(7):
        await Interaction.create(
            workspace_id=tenant.workspace.id,
            type=InteractionType.PAGE_VISITED,
            occurred_at=f"2026-01-0{i + 1}T00:00:00+00:00",
            contact_id=contact.id,
            lead_id=lead.id if i % 2 else None,
        )
    query = """{ accounts(first: 50) { totalCount edges { node {
        contacts(first: 20) { totalCount edges { node { interactions(first: 3) { totalCount edges { node { type } } }
          leads(first: 10) { totalCount edges { node {
            interactions(first: 5) { totalCount edges { node { occurredAt lead { id } } } } } } } } } } } } } }"""
    count_statements.statements.clear()
    data = await tenant.gql(query)
    # one statement whatever the nesting, pages and counts (the compiled read path)
    assert len(count_statements.statements) == 1, count_statements.statements
    lead_id = relay.to_base64("Lead", lead.id)
    leads = [
        lead_edge["node"]
        for account in data["accounts"]["edges"]
        for contact_edge in account["node"]["contacts"]["edges"]
        for lead_edge in contact_edge["node"]["leads"]["edges"]
    ]
    counted = [lead["interactions"] for lead in leads if lead["interactions"]["totalCount"]]
    # the lead with lead-level interactions sees them plus its contact's contact-level ones (7);
    # its sibling lead sees only the 4 contact-level ones.
    assert sorted(c["totalCount"] for c in counted) == [4, 7]
    own = next(c for c in counted if c["totalCount"] == 7)
    times = [e["node"]["occurredAt"] for e in own["edges"]]
    assert times == sorted(times, reverse=True) and len(times) == 5
    assert {e["node"]["lead"]["id"] if e["node"]["lead"] else None for e in own["edges"]} == {
        lead_id,
        None,
    }
