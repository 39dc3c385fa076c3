"""Re-scoring benchmark: one set-based re-score of every lead of the seeded `bench` workspace
under an interaction-only model, next to a model that mixes every rule kind.

    python bench/rescore_models.py [--runs 3]

Runs on LEADGRAPH_BENCH_DATABASE_URL (a copy of the seeded template, migrated). Each run is
the three steps of `models.rescoring.rescore` over the whole workspace in one transaction, each
timed, then rolled back so every run starts from the same data. Accounts without
firmographics get deterministic ones first, so the attribute rules match some leads.
"""

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime

from common import Settings, database_url
from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

import resolvers  # noqa: F401  registers the LeadFilter compiler used by attribute rules
from models import Lead, ScoringModel, Workspace, rescoring
from models.rescoring import Scope
from models.scoring import DEFAULT_MODEL

INTERACTION_ONLY = [rule.to_json() for rule in DEFAULT_MODEL["rules"]]
MIXED = [
    *INTERACTION_ONLY[:2],
    {**INTERACTION_ONLY[2], "half_life_days": 30},  # FORM_SUBMITTED, decayed
    {**INTERACTION_ONLY[4], "half_life_days": 14},  # CONTENT_DOWNLOADED, decayed
    {"interaction_type": "EMAIL_CLICKED", "points": 4, "metadata_contains": {"campaign": "Solar"}},
    *INTERACTION_ONLY[5:],
    {
        "interaction_type": None,
        "points": 10,
        "lead_matches": {"contact": {"jobTitle": {"contains": "manager"}}},
    },
    {
        "interaction_type": None,
        "points": 15,
        "lead_matches": {"account": {"numberOfEmployees": {"gt": 500}}},
    },
    {
        "interaction_type": None,
        "points": 5,
        "lead_matches": {
            "or": [
                {"source": {"eq": "Referral"}},
                {"account": {"industry": {"in": ["Energy", "Software"]}}},
            ]
        },
    },
]
APPLIES_TO = {"not": {"source": {"eq": "Cold call"}}}


GRADES = [{"label": g.label, "min_score": g.min_score} for g in DEFAULT_MODEL["grades"]]


class Rollback(Exception):
    pass


async def timed(workspace_id: int, rules: list[dict], applies_to: dict | None) -> list[float]:
    """Seconds for one re-score of the whole workspace under a new (rolled back) model: the
    model's upsert, the lead summary, the promotion of newly sales-ready leads, in total."""
    steps: list[float] = []
    try:
        async with in_transaction() as conn:
            model = await ScoringModel.create(
                using_db=conn,
                workspace_id=workspace_id,
                name="bench",
                primary=False,
                active=True,
                sales_ready_threshold=30,
                rules=rules,
                grades=GRADES,
                applies_to=applies_to,
            )
            scope, now = Scope(workspace_id), datetime.now(UTC)
            started = time.monotonic()
            await rescoring.rescore_model(conn, model, scope, now)
            steps.append(time.monotonic() - started)
            await rescoring.refresh_lead_summary(conn, scope)
            steps.append(time.monotonic() - started - sum(steps))
            await rescoring.promote_sales_ready(conn, scope, [model.id], None, now)
            steps.append(time.monotonic() - started - sum(steps))
            raise Rollback
    except Rollback:
        return [*steps, sum(steps)]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Whole-workspace statements: the CLI's longer statement timeout, not a request's.
    settings = Settings(database_url=database_url()).for_batch_work()
    await Tortoise.init(config=settings.tortoise_config())
    try:
        workspace = await Workspace.get(slug="bench")
        conn = connections.get("default")
        await conn.execute_query(
            "UPDATE account SET number_of_employees = 1 + (id * 7919) % 2000, "
            "annual_revenue = (1 + (id * 7919) % 2000) * 150000.0 "
            "WHERE number_of_employees IS NULL"
        )
        await conn.execute_script("VACUUM ANALYZE")
        leads = await Lead.filter(workspace_id=workspace.id).count()
        cases = {
            f"interaction-only ({len(INTERACTION_ONLY)} rules)": (INTERACTION_ONLY, None),
            f"mixed ({len(MIXED)} rules + appliesTo)": (MIXED, APPLIES_TO),
        }
        timings: dict[str, list[list[float]]] = {name: [] for name in cases}
        await timed(workspace.id, INTERACTION_ONLY, None)  # warm-up
        for _ in range(args.runs):  # alternate, so drift on the shared machine hits both
            for name, (rules, applies_to) in cases.items():
                timings[name].append(await timed(workspace.id, rules, applies_to))
        for name, runs in timings.items():
            summary = {"leads": leads}
            for index, step in enumerate(["model_upsert", "summary", "promotion", "total"]):
                values = [run[index] for run in runs]
                summary[step] = {
                    "seconds": [round(v, 2) for v in values],
                    "median": round(statistics.median(values), 2),
                }
            print(f"re-score {name}: {json.dumps(summary)}", flush=True)
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(main())
