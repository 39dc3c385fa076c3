"""Every filter operator, relation filters (some/none, to-one), and/or/not, sorting, search."""

import pytest


@pytest.fixture
async def graph(tenant):
    """Two accounts, four contacts, leads on several topics."""
    ids = {}

    async def account(name, **extra):
        r = await tenant.mutate("createAccount", {"name": name, **extra}, "account { id }")
        ids[name] = r["account"]["id"]

    async def contact(last, first=None, email=None, account=None, title=None):
        payload = {"lastName": last, "firstName": first, "email": email, "jobTitle": title}
        if account:
            payload["accountId"] = ids[account]
        r = await tenant.mutate("createContact", payload, "contact { id }")
        assert r["userErrors"] == [], r
        ids[last] = r["contact"]["id"]

    async def lead(topic, contact=None, **extra):
        payload = {"topic": topic, **extra}
        if contact:
            payload["contactId"] = ids[contact]
        r = await tenant.mutate("createLead", payload, "lead { id }")
        assert r["userErrors"] == [], r
        return r["lead"]["id"]

    await account("Shop Co", industry="Retail", city="Oslo", country="NO")
    await account("Steel Works", industry="Manufacturing", city="Bergen", country="NO")
    await account("Kiosk 50%", industry="Retail", parentAccountId=ids["Shop Co"])
    await contact("Ahl", "Anna", "anna@shop.co", "Shop Co", "CEO")
    await contact("Berg", "Bo", "bo@shop.co", "Shop Co", "Buyer")
    await contact("Carlsen", None, "c@steel.no", "Steel Works", "Engineer")
    await contact("Dahl", "Dina", None, None, None)
    await lead("Solar", "Ahl", source="Web")
    await lead("Wind", "Ahl", source="Fair")
    await lead("Solar", "Carlsen")
    await lead("Heat", "Dahl")
    ids["sales-only"] = await lead(
        "Solar", lastName="Eik", companyName="Fjord AS", email="e@fjord.no"
    )
    return ids


async def names(tenant, root, filter=None, order=None, search=None, field="lastName"):
    query = f"""query($f: {root[:-1].title()}Filter, $o: [{root[:-1].title()}Order!], $s: String) {{
      {root}(first: 100, filter: $f, orderBy: $o, search: $s) {{ totalCount edges {{ node {{ {field} }} }} }}
    }}"""
    data = (await tenant.gql(query, {"f": filter, "o": order, "s": search}))[root]
    found = [e["node"][field] for e in data["edges"]]
    assert data["totalCount"] == len(found)
    return found


@pytest.mark.parametrize(
    ("string_filter", "expected"),
    [
        ({"eq": "Anna"}, ["Ahl"]),
        ({"neq": "Anna"}, ["Berg", "Carlsen", "Dahl"]),  # empty values count as different
        ({"in": ["Bo", "Dina"]}, ["Berg", "Dahl"]),
        ({"contains": "IN"}, ["Dahl"]),
        ({"startsWith": "an"}, ["Ahl"]),
        ({"isNull": True}, ["Carlsen"]),
        ({"isNull": False}, ["Ahl", "Berg", "Dahl"]),
        ({"in": []}, []),
    ],
)
async def test_string_operators(tenant, graph, string_filter, expected):
    order = [{"field": "LAST_NAME"}]
    assert await names(tenant, "contacts", {"firstName": string_filter}, order) == expected


async def test_like_wildcards_in_the_needle_are_literal(tenant, graph):
    assert await names(tenant, "accounts", {"name": {"contains": "50%"}}, field="name") == [
        "Kiosk 50%"
    ]
    assert await names(tenant, "accounts", {"name": {"contains": "_"}}, field="name") == []


async def test_id_and_datetime_filters(tenant, graph):
    ahl, berg = graph["Ahl"], graph["Berg"]
    assert await names(tenant, "contacts", {"id": {"eq": ahl}}) == ["Ahl"]
    assert await names(
        tenant, "contacts", {"id": {"in": [ahl, berg]}}, [{"field": "LAST_NAME"}]
    ) == ["Ahl", "Berg"]
    assert await names(tenant, "contacts", {"createdAt": {"gt": "2000-01-01T00:00:00Z"}}) != []
    assert await names(tenant, "contacts", {"createdAt": {"lt": "2000-01-01T00:00:00Z"}}) == []
    response = await tenant.post(
        "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }",
        {"f": {"id": {"eq": graph["Shop Co"]}}},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_relation_filters(tenant, graph):
    retail = {"account": {"industry": {"eq": "Retail"}}}
    assert await names(tenant, "contacts", retail, [{"field": "LAST_NAME"}]) == ["Ahl", "Berg"]
    # "contacts whose account is in Retail and who have at least one lead on topic Solar"
    both = {**retail, "leads": {"some": {"topic": {"eq": "Solar"}}}}
    assert await names(tenant, "contacts", both) == ["Ahl"]
    no_leads = {"leads": {"none": {}}}
    assert await names(tenant, "contacts", no_leads) == ["Berg"]
    accounts_with_ceo = {"contacts": {"some": {"jobTitle": {"eq": "CEO"}}}}
    assert await names(tenant, "accounts", accounts_with_ceo, field="name") == ["Shop Co"]
    children = {"parentAccount": {"name": {"eq": "Shop Co"}}}
    assert await names(tenant, "accounts", children, field="name") == ["Kiosk 50%"]
    solar_accounts = {"leads": {"some": {"topic": {"eq": "Solar"}}}}
    assert await names(tenant, "accounts", solar_accounts, [{"field": "NAME"}], field="name") == [
        "Shop Co",
        "Steel Works",
    ]
    lead_topics = await names(
        tenant,
        "leads",
        {"contact": {"lastName": {"eq": "Ahl"}}},
        [{"field": "TOPIC"}],
        field="topic",
    )
    assert lead_topics == ["Solar", "Wind"]
    by_account = {"account": {"city": {"eq": "Bergen"}}}
    assert await names(tenant, "leads", by_account, field="topic") == ["Solar"]
    assert await names(tenant, "leads", {"status": {"in": ["NEW"]}}, field="topic") != []
    assert await names(tenant, "leads", {"status": {"eq": "QUALIFIED"}}, field="topic") == []


async def test_and_or_not(tenant, graph):
    order = [{"field": "LAST_NAME"}]
    either = {"or": [{"lastName": {"eq": "Ahl"}}, {"lastName": {"eq": "Dahl"}}]}
    assert await names(tenant, "contacts", either, order) == ["Ahl", "Dahl"]
    both = {"and": [{"email": {"contains": "shop"}}, {"firstName": {"startsWith": "B"}}]}
    assert await names(tenant, "contacts", both) == ["Berg"]
    # not keeps rows whose field is empty (unknown is not "matches")
    negated = {"not": {"account": {"industry": {"eq": "Retail"}}}}
    assert await names(tenant, "contacts", negated, order) == ["Carlsen", "Dahl"]
    assert await names(tenant, "contacts", {"or": []}) == []


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ([{"field": "FIRST_NAME", "direction": "ASC"}], ["Ahl", "Berg", "Dahl", "Carlsen"]),
        ([{"field": "FIRST_NAME", "direction": "DESC"}], ["Carlsen", "Dahl", "Berg", "Ahl"]),
        ([{"field": "EMAIL", "direction": "DESC"}], ["Dahl", "Carlsen", "Berg", "Ahl"]),
        ([{"field": "CREATED_AT", "direction": "DESC"}], ["Dahl", "Carlsen", "Berg", "Ahl"]),
        ([{"field": "UPDATED_AT"}], ["Ahl", "Berg", "Carlsen", "Dahl"]),
        (None, ["Ahl", "Berg", "Carlsen", "Dahl"]),
    ],
)
async def test_contact_sort_orders(tenant, graph, order, expected):
    assert await names(tenant, "contacts", None, order) == expected


async def test_account_and_lead_sort_orders(tenant, graph):
    by_industry = [
        {"field": "INDUSTRY", "direction": "DESC"},
        {"field": "NAME", "direction": "DESC"},
    ]
    assert await names(tenant, "accounts", None, by_industry, field="name") == [
        "Shop Co",
        "Kiosk 50%",
        "Steel Works",
    ]
    topics = await names(
        tenant, "leads", None, [{"field": "TOPIC"}, {"field": "STATUS"}], field="topic"
    )
    assert topics == ["Heat", "Solar", "Solar", "Solar", "Wind"]


async def test_search(tenant, graph):
    assert await names(tenant, "contacts", search="anna") == ["Ahl"]
    assert await names(tenant, "contacts", search="steel") == ["Carlsen"]  # company name
    assert await names(tenant, "contacts", search="bo shop", order=None) == ["Berg"]
    assert await names(tenant, "accounts", search="bergen", field="name") == ["Steel Works"]
    assert await names(tenant, "leads", search="fjord", field="lastName") == ["Eik"]
    assert await names(tenant, "leads", search="wind ahl", field="topic") == ["Wind"]
    assert await names(tenant, "contacts", search="   ", order=[{"field": "LAST_NAME"}]) == [
        "Ahl",
        "Berg",
        "Carlsen",
        "Dahl",
    ]


async def test_nested_list_filters_and_order(tenant, graph):
    data = await tenant.gql(
        """query($id: ID!) { node(id: $id) { ... on Account {
            contacts(orderBy: [{field: LAST_NAME, direction: DESC}]) { totalCount edges { node { lastName } } }
            buyers: contacts(filter: {jobTitle: {eq: "Buyer"}}) { totalCount edges { node { lastName } } }
            leads(filter: {topic: {eq: "Wind"}}) { totalCount edges { node { topic } } }
            childAccounts { totalCount edges { node { name } } }
        } } }""",
        {"id": graph["Shop Co"]},
    )
    node = data["node"]
    assert [e["node"]["lastName"] for e in node["contacts"]["edges"]] == ["Berg", "Ahl"]
    assert node["buyers"]["totalCount"] == 1
    assert node["buyers"]["edges"][0]["node"]["lastName"] == "Berg"
    assert node["leads"] == {"totalCount": 1, "edges": [{"node": {"topic": "Wind"}}]}
    assert node["childAccounts"]["edges"] == [{"node": {"name": "Kiosk 50%"}}]


@pytest.fixture
async def scored(tenant):
    """Three leads scored 0, 10 and 20 under a single primary model (threshold 15)."""
    from scoring_helpers import contact_with_leads, only_model, record

    await only_model(
        tenant, threshold=15, rules=[{"interactionType": "FORM_SUBMITTED", "points": 10}]
    )
    ids = {}
    for name, forms in (("zero", 0), ("ten", 1), ("twenty", 2)):
        _, (lead,) = await contact_with_leads(tenant, topics=[name])
        ids[name] = lead
        for _ in range(forms):
            await record(tenant, leadId=lead, type="FORM_SUBMITTED")
    return ids


@pytest.mark.parametrize(
    ("score_filter", "expected"),
    [
        ({"eq": 10}, ["ten"]),
        ({"neq": 10}, ["zero", "twenty"]),
        ({"gt": 10}, ["twenty"]),
        ({"gte": 10}, ["ten", "twenty"]),
        ({"lt": 10}, ["zero"]),
        ({"lte": 10}, ["zero", "ten"]),
        ({"in": [0, 20]}, ["zero", "twenty"]),
        ({"isNull": False}, ["zero", "ten", "twenty"]),
        ({"isNull": True}, []),
    ],
)
async def test_int_filter_on_lead_score(tenant, scored, score_filter, expected):
    assert (
        await names(tenant, "leads", {"score": score_filter}, [{"field": "SCORE"}], field="topic")
        == expected
    )


async def test_sales_ready_filter_and_score_order(tenant, scored):
    assert await names(tenant, "leads", {"salesReady": True}, field="topic") == ["twenty"]
    assert await names(
        tenant, "leads", {"salesReady": False}, [{"field": "TOPIC"}], field="topic"
    ) == ["ten", "zero"]
    desc = await names(
        tenant, "leads", None, [{"field": "SCORE", "direction": "DESC"}], field="topic"
    )
    assert desc == ["twenty", "ten", "zero"]


async def test_datetime_operators(tenant, graph):
    data = await tenant.gql(
        "{ contacts(orderBy: [{field: CREATED_AT}]) { edges { node { lastName createdAt } } } }"
    )
    first = data["contacts"]["edges"][0]["node"]
    at = first["createdAt"]
    assert await names(tenant, "contacts", {"createdAt": {"eq": at}}) == [first["lastName"]]
    assert first["lastName"] in await names(tenant, "contacts", {"createdAt": {"lte": at}})
    assert first["lastName"] not in await names(tenant, "contacts", {"createdAt": {"gt": at}})
    assert len(await names(tenant, "contacts", {"createdAt": {"gte": at}})) == 4
    assert await names(tenant, "contacts", {"createdAt": {"isNull": True}}) == []
