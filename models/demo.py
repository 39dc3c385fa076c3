"""Realistic demo data (Faker): account hierarchies, contacts, leads and interactions."""

import random
from datetime import UTC, datetime, timedelta

from faker import Faker
from tortoise import connections
from tortoise.transactions import in_transaction

from models.account import Account
from models.contact import Contact
from models.interaction import Interaction, InteractionType
from models.lead import Lead, LeadStatus
from models.rescoring import Scope, rescore
from models.sql import is_postgres
from models.workspace import Workspace

INDUSTRIES = ["Retail", "Manufacturing", "Healthcare", "Finance", "Energy", "Software", "Education"]
TOPICS = ["Solar", "Heat pumps", "Battery storage", "EV charging", "Energy audit", "Smart meters"]
SOURCES = ["Web form", "Trade show", "Referral", "Webinar", "Cold call", "Partner"]
BATCH = 2000


async def _bulk(model, rows: list) -> list[int]:
    """Insert in batches and return the new ids in insertion order."""
    last = await model.all().order_by("-id").first()
    before = last.id if last else 0
    for start in range(0, len(rows), BATCH):
        await model.bulk_create(rows[start : start + BATCH])
    return list(await model.filter(id__gt=before).order_by("id").values_list("id", flat=True))


async def seed_demo(workspace: Workspace, *, contacts: int, seed: int = 7) -> dict[str, int]:
    fake = Faker()
    Faker.seed(seed)
    rnd = random.Random(seed)
    now = datetime.now(UTC)

    account_count = max(1, contacts // 10)
    sizes = random.Random(seed + 1)  # its own stream, so the rest of the data stays the same
    accounts = []
    for i in range(account_count):
        employees = int(sizes.lognormvariate(4, 1.6)) + 1
        accounts.append(
            Account(
                workspace_id=workspace.id,
                name=f"{fake.company()} {i}",
                industry=rnd.choice(INDUSTRIES),
                website=f"https://{fake.domain_word()}{i}.example",
                city=fake.city(),
                country=fake.country_code(),
                number_of_employees=employees,
                annual_revenue=round(employees * sizes.uniform(80_000, 250_000), -3),
            )
        )
    account_ids = await _bulk(Account, accounts)
    # A fifth of the accounts get a parent among the accounts made before them.
    for index in range(1, len(account_ids)):
        if rnd.random() < 0.2:
            parent = account_ids[rnd.randrange(0, index)]
            await Account.filter(id=account_ids[index]).update(parent_account_id=parent)

    people = []
    for i in range(contacts):
        first, last = fake.first_name(), fake.last_name()
        email = f"{first}.{last}.{i}@{fake.free_email_domain()}".lower()
        people.append(
            Contact(
                workspace_id=workspace.id,
                first_name=first,
                last_name=last,
                email=email,
                email_normalized=email,
                phone=fake.phone_number()[:50],
                job_title=fake.job()[:200],
                account_id=rnd.choice(account_ids) if rnd.random() < 0.9 else None,
            )
        )
    contact_ids = await _bulk(Contact, people)
    contact_account = {cid: p.account_id for cid, p in zip(contact_ids, people, strict=True)}

    leads = []
    for cid in contact_ids:
        for _ in range(rnd.choice([0, 1, 1, 2, 3])):
            leads.append(
                Lead(
                    workspace_id=workspace.id,
                    topic=rnd.choice(TOPICS),
                    source=rnd.choice(SOURCES),
                    status=LeadStatus.NEW,
                    contact_id=cid,
                    account_id=contact_account[cid],
                )
            )
    for _ in range(max(1, contacts // 10)):  # sales-only leads
        leads.append(
            Lead(
                workspace_id=workspace.id,
                topic=rnd.choice(TOPICS),
                source=rnd.choice(SOURCES),
                status=LeadStatus.NEW,
                first_name=fake.first_name(),
                last_name=fake.last_name(),
                email=fake.email(),
                company_name=fake.company(),
            )
        )
    lead_ids = await _bulk(Lead, leads)
    leads_of: dict[int, list[int]] = {}
    for lid, lead in zip(lead_ids, leads, strict=True):
        if lead.contact_id is not None:
            leads_of.setdefault(lead.contact_id, []).append(lid)

    types = list(InteractionType)
    interactions = []
    for cid in contact_ids:
        own_leads = leads_of.get(cid, [])
        for _ in range(rnd.randint(0, 6)):
            interactions.append(
                Interaction(
                    workspace_id=workspace.id,
                    type=rnd.choice(types),
                    occurred_at=now - timedelta(minutes=rnd.randint(1, 60 * 24 * 120)),
                    contact_id=cid,
                    lead_id=rnd.choice(own_leads) if own_leads and rnd.random() < 0.4 else None,
                    metadata={"campaign": rnd.choice(TOPICS)},
                )
            )
    await _bulk(Interaction, interactions)
    conn = connections.get("default")
    if is_postgres(conn):  # fresh statistics, or the planner misjudges the bulk-loaded tables
        await conn.execute_script("ANALYZE")
    async with in_transaction() as conn:
        await rescore(conn, Scope(workspace.id), now=now)
    return {
        "accounts": len(account_ids),
        "contacts": len(contact_ids),
        "leads": len(lead_ids),
        "interactions": len(interactions),
    }
