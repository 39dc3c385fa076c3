"""Account firmographics: numberOfEmployees and annualRevenue in inputs, filters and sorting
(on the PostgreSQL fast path too), checked and cleared like other fields."""

QUERY = """query($f: AccountFilter, $o: [AccountOrder!]) {
  accounts(filter: $f, orderBy: $o) { edges { node { name numberOfEmployees annualRevenue } } } }"""


async def _names(tenant, filter=None, order=None):
    data = await tenant.gql(QUERY, {"f": filter, "o": order})
    return [e["node"]["name"] for e in data["accounts"]["edges"]]


async def test_firmographics_are_stored_filtered_and_sorted(tenant):
    """Int and Float filters and orderBy work on the new columns; empty values sort last."""
    for name, employees, revenue in [
        ("A", 600, 2.5e7),
        ("B", 20, 1.25e6),
        ("C", None, None),
        ("D", 5000, 9.9e8),
    ]:
        result = await tenant.mutate(
            "createAccount",
            {"name": name, "numberOfEmployees": employees, "annualRevenue": revenue},
            "account { numberOfEmployees annualRevenue }",
        )
        assert result == {
            "account": {"numberOfEmployees": employees, "annualRevenue": revenue},
            "userErrors": [],
        }
    assert await _names(tenant, {"numberOfEmployees": {"gt": 500}}) == ["A", "D"]
    assert await _names(tenant, {"annualRevenue": {"gte": 1.25e6, "lt": 9e8}}) == ["A", "B"]
    assert await _names(tenant, {"annualRevenue": {"isNull": True}}) == ["C"]
    assert await _names(tenant, {"numberOfEmployees": {"in": [20, 600]}}) == ["A", "B"]
    assert await _names(tenant, order=[{"field": "NUMBER_OF_EMPLOYEES", "direction": "DESC"}]) == [
        "C",
        "D",
        "A",
        "B",
    ]
    assert await _names(tenant, order=[{"field": "ANNUAL_REVENUE"}]) == ["B", "A", "D", "C"]
    data = await tenant.gql(QUERY, {"o": [{"field": "ANNUAL_REVENUE"}]})
    assert data["accounts"]["edges"][0]["node"] == {
        "name": "B",
        "numberOfEmployees": 20,
        "annualRevenue": 1.25e6,
    }


async def test_firmographics_are_checked_and_cleared(tenant):
    """Negative or absurd values are user errors naming the field; null clears a value."""
    result = await tenant.mutate(
        "createAccount",
        {"name": "X", "numberOfEmployees": -1, "annualRevenue": -5.0},
        "account { id }",
    )
    assert result["account"] is None
    assert [e["field"] for e in result["userErrors"]] == [["numberOfEmployees"], ["annualRevenue"]]
    created = await tenant.mutate(
        "createAccount", {"name": "X", "numberOfEmployees": 7}, "account { id }"
    )
    account_id = created["account"]["id"]
    updated = await tenant.mutate(
        "updateAccount",
        {"id": account_id, "numberOfEmployees": None, "annualRevenue": 1e9},
        "account { numberOfEmployees annualRevenue }",
    )
    assert updated["account"] == {"numberOfEmployees": None, "annualRevenue": 1e9}


async def test_firmographics_on_the_sql_fast_path(tenant, count_statements, settings):
    """On PostgreSQL the fast path answers account reads with the new fields in one statement,
    with the same answer as strawberry's resolvers on SQLite."""
    await tenant.mutate(
        "createAccount",
        {"name": "A", "numberOfEmployees": 12, "annualRevenue": 3.5e6},
        "account { id }",
    )
    count_statements.statements.clear()
    data = await tenant.gql(QUERY, {"f": {"annualRevenue": {"gt": 1e6}}})
    assert data["accounts"]["edges"] == [
        {"node": {"name": "A", "numberOfEmployees": 12, "annualRevenue": 3.5e6}}
    ]
    if settings.is_postgres:
        assert len(count_statements.statements) == 1, count_statements.statements
