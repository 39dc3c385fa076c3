"""Keyset pagination: forwards, backwards, stable cursors under inserts, page-size limits."""

import asyncio

import pytest

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $orderBy: [ContactOrder!]) {
  contacts(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { lastName } }
  }
}"""


async def make_contacts(tenant, names):
    for name in names:
        result = await tenant.mutate("createContact", {"lastName": name}, "contact { id }")
        assert result["userErrors"] == []


async def walk(tenant, variables, forwards=True):
    variables = dict(variables)
    names, cursor = [], variables.pop("after", None)
    while True:
        extra = {"after": cursor} if forwards else {"before": cursor}
        extra = extra if cursor else {}
        page = (await tenant.gql(PAGE, {**variables, **extra}))["contacts"]
        batch = [e["node"]["lastName"] for e in page["edges"]]
        names = names + batch if forwards else batch + names
        info = page["pageInfo"]
        if not (info["hasNextPage"] if forwards else info["hasPreviousPage"]):
            return names
        cursor = info["endCursor"] if forwards else info["startCursor"]


async def test_forwards_and_backwards_visit_every_row_once(tenant):
    names = [f"n{i:02d}" for i in range(23)]
    await make_contacts(tenant, reversed(names))
    order = [{"field": "LAST_NAME", "direction": "ASC"}]
    assert await walk(tenant, {"first": 5, "orderBy": order}) == names
    assert await walk(tenant, {"last": 5, "orderBy": order}, forwards=False) == names
    desc = [{"field": "LAST_NAME", "direction": "DESC"}]
    assert await walk(tenant, {"first": 7, "orderBy": desc}) == names[::-1]


async def test_page_info_and_total_count(tenant):
    await make_contacts(tenant, ["a", "b", "c"])
    first = (await tenant.gql(PAGE, {"first": 2}))["contacts"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    rest = (await tenant.gql(PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "contacts"
    ]
    assert [e["node"]["lastName"] for e in rest["edges"]] == ["c"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True


async def test_cursors_stay_valid_under_concurrent_inserts(tenant):
    await make_contacts(tenant, [f"m{i:02d}" for i in range(0, 40, 2)])  # even numbers
    order = [{"field": "LAST_NAME", "direction": "ASC"}]
    first = (await tenant.gql(PAGE, {"first": 5, "orderBy": order}))["contacts"]
    seen = [e["node"]["lastName"] for e in first["edges"]]
    # Insert rows on both sides of the cursor while the client pages on.
    await asyncio.gather(*(make_contacts(tenant, [f"m{i:02d}"]) for i in range(1, 40, 2)))
    rest = await walk(
        tenant, {"first": 5, "orderBy": order, "after": first["pageInfo"]["endCursor"]}
    )
    assert seen == ["m00", "m02", "m04", "m06", "m08"]
    assert rest == [f"m{i:02d}" for i in range(9, 40)]  # nothing skipped, nothing repeated


async def test_nulls_sort_last_ascending_and_paginate(tenant):
    for first_name in ["b", None, "a", None, "c"]:
        payload = {"lastName": f"x-{first_name}", "firstName": first_name}
        await tenant.mutate("createContact", payload, "contact { id }")
    order = [{"field": "FIRST_NAME", "direction": "ASC"}]
    names = await walk(tenant, {"first": 1, "orderBy": order})
    assert names == ["x-a", "x-b", "x-c", "x-None", "x-None"]
    desc = await walk(
        tenant, {"first": 2, "orderBy": [{"field": "FIRST_NAME", "direction": "DESC"}]}
    )
    assert desc == ["x-None", "x-None", "x-c", "x-b", "x-a"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 101}, "At most 100 items per page; asked for 101."),
        ({"first": -1}, "`first` and `last` must not be negative."),
        ({"first": 1, "last": 1}, "Pass either `first` or `last`, not both."),
        ({"first": 1, "after": "garbage!"}, "Invalid cursor."),
    ],
)
async def test_bad_pagination_arguments_are_clear_errors(tenant, variables, message):
    response = await tenant.post(PAGE, variables)
    error = response.json()["errors"][0]
    assert error["message"] == message
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_cursor_from_another_order_is_refused(tenant):
    await make_contacts(tenant, ["a", "b"])
    page = (await tenant.gql(PAGE, {"first": 1}))["contacts"]
    response = await tenant.post(
        PAGE,
        {
            "first": 1,
            "after": page["pageInfo"]["endCursor"],
            "orderBy": [{"field": "EMAIL", "direction": "ASC"}],
        },
    )
    assert "different ordering" in response.json()["errors"][0]["message"]


async def test_nested_page_size_limit_applies_too(tenant):
    await tenant.mutate("createAccount", {"name": "A"}, "account { id }")
    response = await tenant.post(
        "{ accounts { edges { node { contacts(first: 500) { totalCount } } } } }"
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "At most 100 items per page; asked for 500."


async def test_largest_page_is_allowed(tenant):
    await make_contacts(tenant, ["a"])
    page = (await tenant.gql(PAGE, {"first": 100}))["contacts"]
    assert page["totalCount"] == 1
