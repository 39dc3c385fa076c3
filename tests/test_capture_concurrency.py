"""Concurrent capture calls on PostgreSQL: one new email makes one contact and one lead, one
idempotency key one interaction, however many forms arrive at once."""

import asyncio
import os

import pytest

from models import Contact, Interaction, InteractionType, Lead, Role

pytestmark = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="SQLite runs one writer at a time; concurrency is proven on PostgreSQL",
)

SUBMIT = """mutation($i: SubmitFormInput!) { submitForm(input: $i) {
  accepted userErrors { code } } }"""


async def submit_all(tenant, inputs: list[dict]) -> list[dict]:
    responses = await asyncio.gather(
        *(tenant.post(SUBMIT, {"i": i}, role=Role.CAPTURE) for i in inputs)
    )
    return [r.json() for r in responses]


async def test_two_forms_with_the_same_new_email_at_once_make_one_contact(tenant):
    """Two submitForms with one new email (in different case), sent together, five times
    over: one contact and one lead per email, both forms recorded."""
    for n in range(5):
        bodies = await submit_all(
            tenant,
            [
                {"email": f"new{n}@example.com", "topic": "Solar", "visitorId": f"a{n}"},
                {"email": f"NEW{n}@example.com", "topic": "solar", "visitorId": f"b{n}"},
            ],
        )
        assert all(b["data"]["submitForm"]["accepted"] for b in bodies), bodies
    assert await Contact.all().count() == 5
    assert await Lead.all().count() == 5
    forms = await Interaction.filter(type=InteractionType.FORM_SUBMITTED).count()
    assert forms == 10


async def test_many_forms_at_once_with_one_email_and_key(tenant):
    """Eight identical forms with one idempotency key at once: one contact, one lead, one
    interaction, and every caller told `accepted`."""
    form = {"email": "burst@example.com", "topic": "Solar", "idempotencyKey": "k-1"}
    bodies = await submit_all(tenant, [form] * 8)
    assert all(b["data"]["submitForm"]["accepted"] for b in bodies), bodies
    assert await Contact.all().count() == 1 and await Lead.all().count() == 1
    assert await Interaction.all().count() == 1
    assert (await Lead.get()).score == 10 - 5  # one form, no page visit in 60 days
