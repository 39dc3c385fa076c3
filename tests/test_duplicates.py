"""duplicates: groups of likely duplicates with their reason, per workspace; DUPLICATE user
errors name the clashing records in existingIds."""

QUERY = """query($t: RecordType!, $first: Int) { duplicates(type: $t, first: $first) {
  reason records { id ... on Contact { lastName } ... on Account { name } } } }"""


async def _contact(tenant, **input):
    result = await tenant.mutate("createContact", {"lastName": "Doe", **input}, "contact { id }")
    assert result["userErrors"] == [], result
    return result["contact"]["id"]


async def _account(tenant, **input):
    result = await tenant.mutate("createAccount", input, "account { id }")
    assert result["userErrors"] == [], result
    return result["account"]["id"]


async def test_contact_duplicates_with_reasons(make_tenant):
    """Same phone digits, and the same normalised name at the same account, group contacts;
    other workspaces' look-alikes never appear."""
    tenant, other = await make_tenant("A"), await make_tenant("B")
    acme = await _account(tenant, name="Acme")
    a = await _contact(tenant, firstName="Ann", phone="+1 (555) 010-2000")
    b = await _contact(tenant, firstName="Bob", phone="1 555 010 2000")
    c = await _contact(tenant, firstName=" ann ", lastName="SMITH", accountId=acme)
    d = await _contact(tenant, firstName="Ann", lastName="Smith", accountId=acme)
    await _contact(tenant, firstName="Ann", lastName="Smith")  # no account: not grouped
    await _contact(tenant, firstName="Cy", phone="123")  # too few digits
    await _contact(other, firstName="Ann", phone="15550102000")
    data = await tenant.gql(QUERY, {"t": "CONTACT"})
    groups = [(g["reason"], [r["id"] for r in g["records"]]) for g in data["duplicates"]]
    assert groups == [("same phone", [a, b]), ("similar name at same account", [c, d])]
    assert (await tenant.gql(QUERY, {"t": "CONTACT", "first": 1}))["duplicates"][0][
        "reason"
    ] == "same phone"


async def test_account_duplicates_by_domain_and_name(tenant):
    """Accounts group by website domain (scheme, www and path ignored) and normalised name."""
    a = await _account(tenant, name="Acme Inc.", website="https://www.Acme.com/about")
    b = await _account(tenant, name="Acme Corp", website="acme.com")
    c = await _account(tenant, name="acme inc")
    await _account(tenant, name="Other", website="https://other.com")
    data = await tenant.gql(QUERY, {"t": "ACCOUNT"})
    groups = [(g["reason"], [r["id"] for r in g["records"]]) for g in data["duplicates"]]
    assert groups == [("same name", [a, c]), ("same website domain", [a, b])]


async def test_duplicates_refuse_other_types(tenant):
    """Only CONTACT and ACCOUNT are checked for duplicates; others are BAD_USER_INPUT."""
    response = await tenant.post(QUERY, {"t": "LEAD"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_duplicate_email_error_names_the_existing_contact(tenant):
    """A DUPLICATE email error carries the ID of the contact it clashes with."""
    first = await _contact(tenant, email="ann@example.com")
    result = await tenant.mutate(
        "createContact",
        {"lastName": "X", "email": "ANN@example.com"},
        "contact { id } userErrors { code existingIds }",
    )
    assert result["userErrors"][0]["code"] == "DUPLICATE"
    assert result["userErrors"][0]["existingIds"] == [first]


async def test_duplicates_take_one_statement_whatever_the_groups(tenant, count_statements):
    """One statement finds the groups and builds every record (the read compiler): no query
    per group."""
    for i in range(6):
        await _contact(tenant, firstName="Ann", phone=f"555-010-{i % 3}000")
    count_statements.statements.clear()
    data = await tenant.gql(QUERY, {"t": "CONTACT"})
    assert [len(g["records"]) for g in data["duplicates"]] == [2, 2, 2]
    assert len(count_statements.statements) == 1, count_statements.statements
