"""GET /export/...: the same rows and values as the GraphQL lists, RFC 4180 CSV with formula
escaping, NDJSON, the key's workspace only, every role, and 400s for bad filters."""

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

import resolvers.reports.exports
from models import Account, Contact, Interaction, InteractionType, Lead, LeadStatus, Role

LEAD_FIELDS = (
    "id topic source status firstName lastName email companyName score grade salesReady "
    "contact { id } account { id } createdAt updatedAt"
)


async def seed(workspace_id: int) -> None:
    acme = await Account.create(workspace_id=workspace_id, name="Acme, Inc.", city="Köln")
    await Account.create(
        workspace_id=workspace_id, name='=HYPERLINK("http://x")', parent_account_id=acme.id
    )
    ann = await Contact.create(
        workspace_id=workspace_id,
        first_name="Ann",
        last_name='O"Neil',
        account_id=acme.id,
        job_title="+CEO",
    )
    bob = await Contact.create(workspace_id=workspace_id, last_name="Bob\nLine", email="b@x.io")
    topics = ["Solar", "-2+3", "@SUM(A1)", "Wind, Heat", "Solar"]
    for i, topic in enumerate(topics):
        await Lead.create(
            workspace_id=workspace_id,
            topic=topic,
            source="web" if i % 2 else None,
            status=LeadStatus.NEW if i < 3 else LeadStatus.QUALIFIED,
            contact_id=ann.id if i % 2 else bob.id,
            account_id=acme.id if i % 2 else None,
            score=-5 if i == 0 else i * 10,
            sales_ready=i == 4,
        )
    lead = await Lead.filter(workspace_id=workspace_id).first()
    await Interaction.create(
        workspace_id=workspace_id,
        type=InteractionType.EMAIL_OPENED,
        contact_id=ann.id,
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
        metadata={"campaign": "=cmd", "n": 1},
    )
    await Interaction.create(
        workspace_id=workspace_id,
        type=InteractionType.MEETING,
        contact_id=bob.id,
        lead_id=lead.id,
        occurred_at=datetime(2026, 1, 3, tzinfo=UTC),
    )


async def export(tenant, path: str, role: Role = Role.ADMIN, **params):
    headers = {"Authorization": f"Bearer {tenant.keys[role]}"}
    return await tenant.http.get(f"/export/{path}", params=params, headers=headers)


def flatten(node: dict) -> dict:
    """A GraphQL node as an export row: relations become `<field>Id`."""
    out = {}
    for key, value in node.items():
        if key in {"contact", "account", "lead"}:
            out[f"{key}Id"] = value["id"] if value else None
        else:
            out[key] = value
    return out


def cell(value) -> str:
    """What the CSV should hold for a GraphQL value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return str(value)


@pytest.mark.parametrize("chunk", [1000, 2])
async def test_lead_export_equals_the_filtered_connection(tenant, make_tenant, monkeypatch, chunk):
    """CSV and NDJSON exports of a filtered, searched list hold exactly the connection's rows in
    its order, with the same values (CSV: formula-escaped text); another workspace's rows never
    appear. Small chunks exercise the chunked reads."""
    monkeypatch.setattr(resolvers.reports.exports, "CHUNK_ROWS", chunk)
    await seed(tenant.workspace.id)
    other = await make_tenant("Other")
    await seed(other.workspace.id)
    lead_filter = {"or": [{"status": {"eq": "NEW"}}, {"score": {"gte": 40}}]}
    for f, search, size in ((None, None, 5), (lead_filter, None, 4), (lead_filter, "solar", 2)):
        data = await tenant.gql(
            f"query($f: LeadFilter, $s: String) {{ leads(first: 100, filter: $f, search: $s) "
            f"{{ edges {{ node {{ {LEAD_FIELDS} }} }} }} }}",
            {"f": f, "s": search},
        )
        expected = [flatten(e["node"]) for e in data["leads"]["edges"]]
        params = {
            k: v
            for k, v in (("filter", orjson.dumps(f).decode() if f else None), ("search", search))
            if v
        }
        ndjson = await export(tenant, "leads.ndjson", **params)
        assert (
            ndjson.status_code == 200 and ndjson.headers["content-type"] == "application/x-ndjson"
        )
        got = [orjson.loads(line) for line in ndjson.content.splitlines()]
        assert got == expected
        response = await export(tenant, "leads.csv", **params)
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        table = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
        assert table[0] == list(expected[0]) if expected else True
        assert table[1:] == [[cell(v) for v in row.values()] for row in expected]
        assert len(expected) == size  # computed from the seed: this workspace's rows only


async def test_csv_quoting_and_formula_escaping(tenant):
    """RFC 4180: CRLF line ends, fields with commas, quotes and line breaks quoted and quotes
    doubled; text starting with = + - @ gets an apostrophe, numbers (a score of -5) do not."""
    await seed(tenant.workspace.id)
    raw = (await export(tenant, "leads.csv")).content.decode()
    assert raw.startswith("id,topic,source,status,") and raw.endswith("\r\n")
    assert "\r\n" in raw and "\n" not in raw.replace("\r\n", "")
    assert ",'-2+3," in raw and ",'@SUM(A1)," in raw and ',"Wind, Heat",' in raw
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert rows[0]["score"] == "-5"
    accounts = (await export(tenant, "accounts.csv")).content.decode()
    assert '"Acme, Inc."' in accounts and '"\'=HYPERLINK(""http://x"")"' in accounts
    contacts = list(
        csv.DictReader(io.StringIO((await export(tenant, "contacts.csv")).text, newline=""))
    )
    assert [c["lastName"] for c in contacts] == ['O"Neil', "Bob\nLine"]
    assert contacts[0]["jobTitle"] == "'+CEO"


async def test_every_kind_of_record_exports(tenant, make_tenant):
    """Accounts, contacts and interactions export the same values GraphQL shows, metadata as
    JSON, and nothing of another workspace."""
    await seed(tenant.workspace.id)
    other = await make_tenant("Other")
    await seed(other.workspace.id)
    data = await tenant.gql(
        """{ accounts(first: 100) { edges { node { id name industry website city country
          parentAccount { id } primaryContact { id } createdAt updatedAt } } }
        contacts(first: 100) { edges { node { id firstName lastName email phone jobTitle
          account { id } createdAt updatedAt
          interactions(first: 100) { edges { node { id type occurredAt contact { id } lead { id }
            metadata } } } } } } }"""
    )
    accounts = [
        orjson.loads(x) for x in (await export(tenant, "accounts.ndjson")).content.splitlines()
    ]
    expected = []
    for e in data["accounts"]["edges"]:
        node = dict(e["node"])
        parent, primary = node.pop("parentAccount"), node.pop("primaryContact")
        node = {
            **node,
            "parentAccountId": parent and parent["id"],
            "primaryContactId": primary and primary["id"],
        }
        expected.append(node)
    assert [{k: a[k] for k in expected[0]} for a in accounts] == expected
    contacts = [
        orjson.loads(x) for x in (await export(tenant, "contacts.ndjson")).content.splitlines()
    ]
    assert [c["id"] for c in contacts] == [e["node"]["id"] for e in data["contacts"]["edges"]]
    assert contacts[0]["accountId"] == data["contacts"]["edges"][0]["node"]["account"]["id"]
    interactions = [
        flatten(i["node"])
        for e in data["contacts"]["edges"]
        for i in e["node"]["interactions"]["edges"]
    ]
    exported = [
        orjson.loads(x) for x in (await export(tenant, "interactions.ndjson")).content.splitlines()
    ]
    assert sorted(exported, key=lambda r: r["id"]) == sorted(
        ({**i, "leadId": i.get("leadId")} for i in interactions), key=lambda r: r["id"]
    )
    only_meetings = await export(tenant, "interactions.csv", filter='{"type": {"eq": "MEETING"}}')
    rows = list(csv.DictReader(io.StringIO(only_meetings.text, newline="")))
    assert [r["type"] for r in rows] == ["MEETING"]
    opened = await export(
        tenant, "interactions.csv", filter='{"contact": {"firstName": {"eq": "Ann"}}}'
    )
    rows = list(csv.DictReader(io.StringIO(opened.text, newline="")))
    assert len(rows) == 1 and orjson.loads(rows[0]["metadata"]) == {"campaign": "=cmd", "n": 1}


async def test_roles_and_authentication(tenant):
    """Every role that may read may export (READ_ONLY included); a publishable CAPTURE key is
    403 FORBIDDEN and streams nothing; no key or a bad key is 401."""
    await seed(tenant.workspace.id)
    for role in Role:
        response = await export(tenant, "leads.csv", role=role)
        if role is Role.CAPTURE:
            assert response.status_code == 403
            assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            continue
        assert response.status_code == 200, role
        assert len(response.text.splitlines()) == 6
    assert (await tenant.http.get("/export/leads.csv")).status_code == 401
    bad = await tenant.http.get("/export/leads.csv", headers={"Authorization": "Bearer lg_nope"})
    assert (
        bad.status_code == 401
        and bad.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    )


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("leads.csv", {"filter": "{not json"}, "not valid JSON"),
        ("leads.csv", {"filter": '{"colour": {"eq": "red"}}'}, "colour"),
        ("leads.csv", {"filter": '{"score": {"gte": "high"}}'}, "filter.score.gte"),
        ("leads.ndjson", {"filter": '{"status": {"eq": "WON"}}'}, "WON"),
        ("leads.csv", {"filter": '{"id": {"eq": "QWNjb3VudDox"}}'}, "expected an ID of a Lead"),
        ("leads.csv", {"filter": '{"id": {"eq": "%%%"}}'}, "GlobalID"),
        ("leads.csv", {"filter": "[1]"}, "filter"),
        ("interactions.csv", {"search": "x"}, "search"),
    ],
)
async def test_bad_filters_are_400_with_a_json_error(tenant, path, params, fragment):
    """A filter GraphQL would refuse (syntax, unknown field, wrong type, wrong ID kind) is HTTP
    400 with a JSON error body naming the problem, before anything streams."""
    response = await export(tenant, path, **params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and fragment in error["message"]


async def test_unknown_export_is_404(tenant):
    """Only the four lists in the two formats exist."""
    for path in ("opportunities.csv", "leads.xlsx", "leads"):
        response = await export(tenant, path)
        assert response.status_code == 404 and response.json()["errors"]


async def test_exports_share_the_keys_rate_limit(http, settings):
    """Exports count toward the key's per-minute limit like /graphql requests: past it, 429
    with Retry-After."""
    import asyncio
    import dataclasses
    import time

    import httpx

    from api.app import create_app
    from models import ApiKey, Workspace

    left_in_window = 60 - time.time() % 60
    if left_in_window < 5:  # the three requests must fall into one one-minute window
        await asyncio.sleep(left_in_window + 0.5)
    workspace = await Workspace.create_with_unique_slug("Limited")
    _, key = await ApiKey.issue(workspace_id=workspace.id, role=Role.READ_ONLY, name="r")
    # A second app on the session's ORM connections (its lifespan would close them).
    limited = create_app(dataclasses.replace(settings, rate_limit_per_minute=2))
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"Authorization": f"Bearer {key}"}
        first = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        second = await client.get("/export/leads.csv", headers=headers)
        third = await client.get("/export/leads.csv", headers=headers)
    assert first.status_code == 200 and second.status_code == 200
    assert third.status_code == 429 and third.headers["retry-after"]
    assert third.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_concurrent_exports_are_capped_to_spare_the_pool(tenant, settings):
    """While as many exports stream as half the connection pool allows, one more is refused
    with 429 and Retry-After (GraphQL keeps its connections); once one ends, exports run
    again."""
    import asyncio

    from api.auth import Principal
    from api.export import ExportApp
    from api.schema import build_schema

    await seed(tenant.workspace.id)
    exports = ExportApp(build_schema(settings), max_running=1)
    principal = Principal(tenant.workspace.id, Role.READ_ONLY, None, "test")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/export/leads.csv",
        "path_params": {"name": "leads.csv"},
        "query_string": b"",
        "headers": [],
        "state": {"principal": principal},
    }

    async def receive():
        await asyncio.sleep(3600)  # the client never disconnects

    release, started = asyncio.Event(), asyncio.Event()
    first_messages: list[dict] = []

    async def slow_send(message):  # a client that stops reading after the headers
        first_messages.append(message)
        if message["type"] == "http.response.body":
            started.set()
            await release.wait()

    first = asyncio.create_task(exports(dict(scope), receive, slow_send))
    await asyncio.wait_for(started.wait(), 10)
    refused: list[dict] = []

    async def collect(message):
        refused.append(message)

    await exports(dict(scope), receive, collect)
    assert refused[0]["status"] == 429
    assert (b"retry-after", b"5") in refused[0]["headers"]
    assert b"TOO_MANY_EXPORTS" in refused[1]["body"]
    release.set()
    await asyncio.wait_for(first, 10)
    assert first_messages[0]["status"] == 200
    again: list[dict] = []

    async def collect_again(message):
        again.append(message)

    await exports(dict(scope), receive, collect_again)
    assert again[0]["status"] == 200
