"""trackVisit and submitForm over HTTP: the journey from anonymous visits to a contact, its
leads, scores and attribution, told to the caller as nothing but `accepted`."""

from datetime import UTC, datetime, timedelta

from strawberry import relay
from tortoise import connections

import models.capture
from models import Contact, Interaction, Lead, Role
from models.capture import AnonymousVisit, Visitor, expire_visits

TRACK = """mutation($i: TrackVisitInput!) { trackVisit(input: $i) {
  accepted userErrors { field message code } } }"""
SUBMIT = """mutation($i: SubmitFormInput!) { submitForm(input: $i) {
  accepted userErrors { field message code } } }"""
TOUCH = "at url referrer utmSource utmMedium utmCampaign"
JOURNEY = f"""{{ contacts {{ edges {{ node {{ email firstName lastName jobTitle phone
  account {{ name }} firstTouch {{ {TOUCH} }}
  leads(orderBy: [{{field: CREATED_AT}}]) {{ edges {{ node {{ topic source score
    firstTouch {{ {TOUCH} }} lastTouch {{ {TOUCH} }}
    interactions(first: 50) {{ edges {{ node {{ type occurredAt metadata }} }} }} }} }} }}
}} }} }} }}"""


async def capture(tenant, query: str, input: dict, role: Role = Role.CAPTURE):
    """The raw JSON body of a capture call (the caller's whole view of it)."""
    response = await tenant.post(query, {"i": input}, role=role)
    assert response.status_code == 200, response.text
    return response.json()


async def track(tenant, **input):
    body = await capture(tenant, TRACK, input)
    assert body == {"data": {"trackVisit": {"accepted": True, "userErrors": []}}}, body


async def submit(tenant, **input):
    body = await capture(tenant, SUBMIT, input)
    assert body == {"data": {"submitForm": {"accepted": True, "userErrors": []}}}, body
    return body


def at(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def journey(tenant) -> list[dict]:
    return [e["node"] for e in (await tenant.gql(JOURNEY))["contacts"]["edges"]]


async def test_visits_then_form_make_one_contact_lead_and_scored_journey(tenant):
    """Three anonymous visits then a form with a new email: one contact, one lead, one form
    interaction and three PAGE_VISITED interactions at their original times, all scored."""
    times = [at(3), at(2), at(1)]
    for n, when in enumerate(times, 1):
        await track(
            tenant,
            visitorId="v-1",
            url=f"https://shop.example/p{n}",
            referrer="https://search.example/",
            utm={"source": "google", "medium": "cpc", "campaign": f"c{n}"},
            occurredAt=when,
        )
    assert await Interaction.all().count() == 0  # anonymous until the form
    await submit(
        tenant,
        visitorId="v-1",
        email="Ada@Example.com",
        firstName="Ada",
        lastName="Lovelace",
        topic="Solar",
        utm={"source": "newsletter", "campaign": "c3"},
        url="https://shop.example/form",
        fields={"roof": "south", "panels": 12},
    )
    [contact] = await journey(tenant)
    assert contact["email"] == "Ada@Example.com" and contact["lastName"] == "Lovelace"
    [lead] = [e["node"] for e in contact["leads"]["edges"]]
    assert lead["topic"] == "Solar" and lead["source"] == "newsletter"
    interactions = [e["node"] for e in lead["interactions"]["edges"]]
    visits = [i for i in interactions if i["type"] == "PAGE_VISITED"]
    forms = [i for i in interactions if i["type"] == "FORM_SUBMITTED"]
    assert sorted(parse(v["occurredAt"]) for v in visits) == [parse(t) for t in times]
    assert [v["metadata"]["utm"]["campaign"] for v in visits] == ["c3", "c2", "c1"]
    [form] = forms
    assert form["metadata"]["fields"] == {"roof": "south", "panels": 12}
    assert form["metadata"]["url"] == "https://shop.example/form"
    assert form["metadata"]["utm"] == {"source": "newsletter", "campaign": "c3"}
    # Default model: form submitted +10, page visited +1 each within 30 days.
    assert lead["score"] == 13
    assert lead["firstTouch"]["utmCampaign"] == "c1" and lead["lastTouch"]["utmCampaign"] == "c3"
    assert lead["firstTouch"]["url"] == "https://shop.example/p1"
    assert parse(lead["firstTouch"]["at"]) == parse(times[0])
    assert lead["firstTouch"]["referrer"] == "https://search.example/"
    assert contact["firstTouch"] == lead["firstTouch"]
    assert await AnonymousVisit.all().count() == 0
    visitor = await Visitor.get(external_id="v-1")
    assert visitor.contact_id == (await Contact.get()).id


async def test_second_form_reuses_contact_and_lead_and_fills_only_empty_fields(tenant):
    """Same email in other case and same topic: the contact and lead are reused; only empty
    contact fields are filled; another topic makes a second lead."""
    await submit(tenant, email="ada@example.com", firstName="Ada", topic="Solar")
    await tenant.gql(
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { userErrors { code } } }",
        {"i": {"id": await contact_gid(), "lastName": "Lovelace (typed by sales)"}},
    )
    await submit(
        tenant,
        email="ADA@EXAMPLE.COM",
        firstName="Eve",
        lastName="Other",
        jobTitle="CTO",
        phone="+44 1",
        topic="solar",
    )
    [contact] = await journey(tenant)
    assert contact["firstName"] == "Ada" and contact["lastName"] == "Lovelace (typed by sales)"
    assert contact["jobTitle"] == "CTO" and contact["phone"] == "+44 1"
    assert contact["email"] == "ada@example.com"
    [lead] = [e["node"] for e in contact["leads"]["edges"]]
    assert [i["node"]["type"] for i in lead["interactions"]["edges"]] == ["FORM_SUBMITTED"] * 2
    assert lead["score"] == 15  # two forms (+20), no page visit in 60 days (-5)
    # What the visitor typed is kept on the interaction, even where the contact kept its own.
    submitted = [i["node"]["metadata"]["submitted"] for i in lead["interactions"]["edges"]]
    assert {
        "firstName": "Eve",
        "lastName": "Other",
        "jobTitle": "CTO",
        "phone": "+44 1",
    } in submitted

    await submit(tenant, email="ada@example.com", topic="Wind")
    [contact] = await journey(tenant)
    assert [e["node"]["topic"] for e in contact["leads"]["edges"]] == ["Solar", "Wind"]
    assert await Contact.all().count() == 1 and await Lead.all().count() == 2


async def contact_gid() -> str:
    return str(relay.GlobalID("Contact", str((await Contact.get()).id)))


async def test_closed_lead_with_the_topic_is_not_reused(tenant):
    """Only an open lead is reused: a disqualified one leaves room for a new lead."""
    await submit(tenant, email="ada@example.com", topic="Solar")
    lead = await Lead.get()
    result = await tenant.mutate(
        "disqualifyLead",
        {"leadId": str(relay.GlobalID("Lead", str(lead.id))), "reason": "LOST"},
        "lead { status }",
    )
    assert result["userErrors"] == []
    await submit(tenant, email="ada@example.com", topic="Solar")
    assert await Lead.filter(topic="Solar").count() == 2


async def test_a_visit_after_stitching_scores_immediately(tenant):
    """Once the visitor is known, trackVisit records the contact's PAGE_VISITED interaction
    and re-scores every lead of the contact at once; lastTouch moves to it."""
    await track(tenant, visitorId="v-1", url="https://shop.example/a", occurredAt=at(5))
    await submit(tenant, visitorId="v-1", email="ada@example.com", topic="Solar")
    await submit(tenant, email="ada@example.com", topic="Wind")
    before = {lead.topic: lead.score for lead in await Lead.all()}
    assert before == {"Solar": 11, "Wind": 11}
    await track(tenant, visitorId="v-1", url="https://shop.example/b", utm={"campaign": "retarget"})
    assert {lead.topic: lead.score for lead in await Lead.all()} == {"Solar": 12, "Wind": 12}
    assert await AnonymousVisit.all().count() == 0
    [contact] = await journey(tenant)
    for edge in contact["leads"]["edges"]:
        assert edge["node"]["lastTouch"]["utmCampaign"] == "retarget"
        assert edge["node"]["firstTouch"]["url"] == "https://shop.example/a"
    history = await tenant.gql(
        "{ leads { edges { node { scores { score breakdown { points } } } } } }"
    )
    assert all(e["node"]["scores"][0]["score"] == 12 for e in history["leads"]["edges"])


async def test_replay_with_the_same_idempotency_key_changes_nothing(tenant):
    """A retried form with the same key is accepted and writes nothing; the same key with
    another form is a CONFLICT."""
    await track(tenant, visitorId="v-1", url="https://shop.example/a")
    form = {
        "visitorId": "v-1",
        "email": "ada@example.com",
        "topic": "Solar",
        "idempotencyKey": "k1",
    }
    first = await submit(tenant, **form)

    async def state():
        return (
            sorted(map(str, await Interaction.all().values("id", "type", "occurred_at"))),
            sorted(map(str, await Lead.all().values("id", "score", "updated_at"))),
            sorted(map(str, await Contact.all().values("id", "updated_at"))),
        )

    before = await state()
    assert await submit(tenant, **form) == first
    assert await state() == before
    other = await capture(tenant, SUBMIT, {**form, "topic": "Wind"})
    assert other["data"]["submitForm"]["accepted"] is False
    assert other["data"]["submitForm"]["userErrors"][0]["code"] == "CONFLICT"
    assert await state() == before


async def test_the_answer_never_reveals_whether_the_contact_existed(tenant):
    """A known email and an unknown one get byte-identical answers."""
    await tenant.mutate(
        "createContact", {"lastName": "Known", "email": "known@example.com"}, "contact { id }"
    )
    known = await tenant.post(
        SUBMIT, {"i": {"email": "known@example.com", "topic": "T"}}, Role.CAPTURE
    )
    unknown = await tenant.post(
        SUBMIT, {"i": {"email": "new@example.com", "topic": "T"}}, Role.CAPTURE
    )
    assert known.content == unknown.content
    assert known.status_code == unknown.status_code == 200
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())


async def test_no_foreign_workspace_is_touched(tenant, make_tenant):
    """Same email, same visitor id and same company in another workspace: nothing of theirs
    is read into ours or changed."""
    theirs = await make_tenant("Theirs")
    account = await theirs.mutate("createAccount", {"name": "Acme"}, "account { id }")
    await theirs.mutate(
        "createContact",
        {"lastName": "Theirs", "email": "ada@example.com", "accountId": account["account"]["id"]},
        "contact { id }",
    )
    await track(theirs, visitorId="v-1", url="https://theirs.example/")

    async def their_state():
        ws = theirs.workspace.id
        return (
            sorted(map(str, await Contact.filter(workspace_id=ws).values())),
            sorted(map(str, await Lead.filter(workspace_id=ws).values())),
            sorted(map(str, await Interaction.filter(workspace_id=ws).values())),
            sorted(map(str, await AnonymousVisit.filter(workspace_id=ws).values())),
            sorted(map(str, await Visitor.filter(workspace_id=ws).values("id", "contact_id"))),
        )

    before = await their_state()
    await track(tenant, visitorId="v-1", url="https://ours.example/")
    await submit(
        tenant, visitorId="v-1", email="ADA@example.com", companyName="acme", topic="Solar"
    )
    await track(tenant, visitorId="v-1", url="https://ours.example/again")
    assert await their_state() == before
    [contact] = await journey(tenant)
    assert contact["account"] is None  # their Acme is not ours
    assert contact["lastName"] == "ADA"
    assert len(contact["leads"]["edges"][0]["node"]["interactions"]["edges"]) == 3


async def test_company_name_links_an_existing_account_ignoring_case(tenant):
    """companyName links the contact and the new lead to the account of that name; an
    unknown company creates no account."""
    account = await tenant.mutate("createAccount", {"name": "Acme Corp"}, "account { id }")
    await submit(tenant, email="ada@example.com", companyName="ACME corp", topic="Solar")
    await submit(tenant, email="bob@example.com", companyName="Nobody Ltd", topic="Solar")
    ada = await Contact.get(email_normalized="ada@example.com")
    bob = await Contact.get(email_normalized="bob@example.com")
    assert ada.account_id == int(relay.GlobalID.from_id(account["account"]["id"]).node_id)
    assert bob.account_id is None
    assert (await Lead.get(contact_id=ada.id)).account_id == ada.account_id
    assert (await tenant.gql("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 1


async def test_bad_input_is_a_user_error_and_writes_nothing(tenant):
    """Email syntax, missing topic and every size bound: user errors with their paths."""
    cases = [
        (SUBMIT, {"email": "not-an-email", "topic": "T"}, ["email"]),
        (SUBMIT, {"email": "a@example.com", "topic": "  "}, ["topic"]),
        (SUBMIT, {"email": "a@example.com", "topic": "T" * 201}, ["topic"]),
        (SUBMIT, {"email": "a@example.com", "topic": "T", "firstName": "x" * 101}, ["firstName"]),
        (SUBMIT, {"email": "a@example.com", "topic": "T", "fields": "x"}, ["fields"]),
        (
            SUBMIT,
            {"email": "a@example.com", "topic": "T", "fields": {str(i): i for i in range(51)}},
            ["fields"],
        ),
        (SUBMIT, {"email": "a@example.com", "topic": "T", "fields": {"a": "x" * 9000}}, ["fields"]),
        (
            SUBMIT,
            {"email": "a@example.com", "topic": "T", "utm": {"campaign": "c" * 201}},
            ["utm", "campaign"],
        ),
        (SUBMIT, {"email": "a@example.com", "topic": "T", "visitorId": "v" * 101}, ["visitorId"]),
        (SUBMIT, {"email": "a@example.com", "topic": "T", "url": "javascript:alert(1)"}, ["url"]),
        (
            SUBMIT,
            {"email": "a@example.com", "topic": "T", "idempotencyKey": "k" * 101},
            ["idempotencyKey"],
        ),
        (TRACK, {"visitorId": "", "url": "https://a.example/"}, ["visitorId"]),
        (TRACK, {"visitorId": "v", "url": "https://a.example/" + "x" * 2048}, ["url"]),
        (TRACK, {"visitorId": "v", "url": "/relative"}, ["url"]),
        (
            TRACK,
            {"visitorId": "v", "url": "https://a.example/", "referrer": "r" * 2049},
            ["referrer"],
        ),
        (
            TRACK,
            {"visitorId": "v", "url": "https://a.example/", "occurredAt": at(-1)},
            ["occurredAt"],
        ),
        (
            TRACK,
            {"visitorId": "v", "url": "https://a.example/", "occurredAt": at(91 * 24)},
            ["occurredAt"],
        ),
    ]
    for query, input, field in cases:
        body = await capture(tenant, query, input)
        [payload] = body["data"].values()
        assert payload["accepted"] is False, (input, body)
        assert [e["field"] for e in payload["userErrors"]] == [field], (input, body)
        assert {e["code"] for e in payload["userErrors"]} == {"INVALID"}
    assert await Contact.all().count() == 0 and await Lead.all().count() == 0
    assert await Interaction.all().count() == 0 and await AnonymousVisit.all().count() == 0
    assert await Visitor.all().count() == 0


async def test_statements_per_capture_call(tenant, count_statements):
    """Pinned: an anonymous visit 2 statements (visitor upsert, visit insert); a form with a
    new email and a visit to stitch 16; a known visitor's visit 8 (with the re-score)."""
    await track(tenant, visitorId="v-1", url="https://shop.example/")
    count_statements.statements.clear()
    await track(tenant, visitorId="v-1", url="https://shop.example/2")
    assert len(count_statements.statements) == 2, count_statements.statements
    count_statements.statements.clear()
    await submit(tenant, visitorId="v-1", email="ada@example.com", topic="Solar")
    assert len(count_statements.statements) == 16, count_statements.statements
    count_statements.statements.clear()
    await track(tenant, visitorId="v-1", url="https://shop.example/3")
    assert len(count_statements.statements) == 8, count_statements.statements


async def test_touches_of_many_leads_cost_fixed_statements(tenant, count_statements):
    """firstTouch/lastTouch over a page of leads and contacts: one statement per level each."""
    for n in range(6):
        await track(tenant, visitorId=f"v-{n}", url=f"https://shop.example/{n}")
        await submit(tenant, visitorId=f"v-{n}", email=f"p{n}@example.com", topic="Solar")
        await submit(tenant, email=f"p{n}@example.com", topic="Wind")
    query = f"{{ leads(first: 20) {{ edges {{ node {{ firstTouch {{ {TOUCH} }} lastTouch {{ url }} contact {{ firstTouch {{ url }} }} }} }} }} }}"
    count_statements.statements.clear()
    data = await tenant.gql(query)
    assert len(data["leads"]["edges"]) == 12
    assert all(e["node"]["firstTouch"]["url"] for e in data["leads"]["edges"])
    assert len(count_statements.statements) <= 4, count_statements.statements


async def test_unstitched_visits_expire_after_the_retention(tenant, settings):
    """Anonymous visits older than the retention are deleted by the expiry (with visitors never
    linked and not seen since), and a form no longer stitches them even before it ran."""
    await track(tenant, visitorId="old", url="https://shop.example/old")
    await track(tenant, visitorId="new", url="https://shop.example/new")
    long_ago = datetime.now(UTC) - timedelta(days=settings.visit_retention_days + 1)
    old = await Visitor.get(external_id="old")
    await AnonymousVisit.filter(visitor_id=old.id).update(occurred_at=long_ago)
    await submit(tenant, visitorId="old", email="ada@example.com", topic="Solar")
    assert await Interaction.filter(type="PAGE_VISITED").count() == 0  # too old to stitch

    await track(tenant, visitorId="gone", url="https://shop.example/gone")
    gone = await Visitor.get(external_id="gone")
    await AnonymousVisit.filter(visitor_id=gone.id).update(occurred_at=long_ago)
    await Visitor.filter(id=gone.id).update(last_seen_at=long_ago)
    removed = await expire_visits(
        connections.get("default"),
        retention_days=settings.visit_retention_days,
        now=datetime.now(UTC),
    )
    assert removed == 1
    assert await Visitor.filter(external_id="gone").count() == 0
    assert [v.url for v in await AnonymousVisit.all()] == ["https://shop.example/new"]
    assert await Visitor.filter(external_id="old").exclude(contact_id=None).count() == 1


async def test_stitching_keeps_the_newest_visits_up_to_the_cap(tenant, monkeypatch):
    """A stitch turns at most MAX_STITCHED_VISITS visits (the newest) into interactions and
    drops the rest (the cap is lowered here to keep the test short)."""
    monkeypatch.setattr(models.capture, "MAX_STITCHED_VISITS", 2)
    for n, hours in enumerate([3, 2, 1]):
        await track(tenant, visitorId="v", url=f"https://shop.example/{n}", occurredAt=at(hours))
    await submit(tenant, visitorId="v", email="ada@example.com", topic="Solar")
    visits = await Interaction.filter(type="PAGE_VISITED").order_by("occurred_at")
    assert [v.metadata["url"] for v in visits] == [
        "https://shop.example/1",
        "https://shop.example/2",
    ]
    assert await AnonymousVisit.all().count() == 0
