"""leadFunnel on a hand-built lead history and scoreHistogram at its bucket edges, against
figures the test computes itself from the rows it wrote."""

import statistics
from datetime import UTC, datetime

from strawberry import relay

from models import Lead, LeadEvent, LeadScore, LeadStatus, Role, ScoringModel

P0 = datetime(2026, 2, 1, tzinfo=UTC)
P1 = datetime(2026, 3, 1, tzinfo=UTC)
S = LeadStatus

# lead name -> (created at, topic, [(status entered, at), ...])
HISTORY = {
    "L1": (
        datetime(2026, 2, 2, 10, tzinfo=UTC),
        "Solar",
        [
            (S.SALES_READY, datetime(2026, 2, 3, 10, tzinfo=UTC)),
            (S.SALES_ACCEPTED, datetime(2026, 2, 5, 10, tzinfo=UTC)),
            (S.QUALIFIED, datetime(2026, 2, 6, 10, tzinfo=UTC)),
        ],
    ),
    "L2": (
        datetime(2026, 2, 10, tzinfo=UTC),
        "Wind",
        [(S.NURTURING, datetime(2026, 2, 10, 12, tzinfo=UTC))],
    ),
    "L3": (datetime(2026, 2, 20, tzinfo=UTC), "Solar", []),
    "L4": (
        datetime(2026, 1, 15, tzinfo=UTC),  # created before the period
        "Solar",
        [(S.SALES_READY, P0), (S.DISQUALIFIED, P1)],  # enters at the start; leaves at the end
    ),
    "L5": (
        datetime(2026, 2, 15, tzinfo=UTC),
        "Wind",
        [
            (S.DISQUALIFIED, datetime(2026, 2, 16, 6, tzinfo=UTC)),
            (S.NEW, datetime(2026, 2, 20, 6, tzinfo=UTC)),  # reactivated
        ],
    ),
    "L6": (datetime(2026, 3, 5, tzinfo=UTC), "Solar", []),  # after the period
}


async def build_history(workspace_id: int, history: dict) -> None:
    for name, (created, topic, events) in history.items():
        status = events[-1][0] if events else S.NEW
        lead = await Lead.create(
            workspace_id=workspace_id,
            topic=topic,
            last_name=name,
            status=status,
            created_at=created,
        )
        previous = S.NEW
        for target, at in events:
            await LeadEvent.create(
                workspace_id=workspace_id,
                lead_id=lead.id,
                at=at,
                from_status=previous.value,
                to_status=target.value,
            )
            previous = target


def expected_funnel(history: dict, start: datetime, end: datetime, topic: str | None = None):
    """The funnel computed straight from the history, entry by entry."""
    entered: dict[str, set] = {s.value: set() for s in S}
    still: dict[str, set] = {s.value: set() for s in S}
    hours: dict[str, list[float]] = {s.value: [] for s in S}
    for name, (created, lead_topic, events) in history.items():
        if topic is not None and lead_topic != topic:
            continue
        entries = [(S.NEW, created), *events]
        current = entries[-1][0]
        for i, (status, at) in enumerate(entries):
            if not start <= at < end:
                continue
            entered[status.value].add(name)
            if current is status:
                still[status.value].add(name)
            if i + 1 < len(entries):
                hours[status.value].append((entries[i + 1][1] - at).total_seconds() / 3600)
    stages = [
        {
            "status": s.value,
            "entered": len(entered[s.value]),
            "stillThere": len(still[s.value]),
            "medianHoursToNext": statistics.median(hours[s.value]) if hours[s.value] else None,
        }
        for s in S
    ]
    new = len(entered["NEW"])
    return {"stages": stages, "conversionRate": len(entered["QUALIFIED"]) / new if new else 0.0}


FUNNEL = """query($from: DateTime!, $to: DateTime!, $f: LeadFilter) {
  leadFunnel(from: $from, to: $to, filter: $f) {
    stages { status entered stillThere medianHoursToNext } conversionRate } }"""


async def test_funnel_on_a_hand_built_history(tenant, make_tenant, count_statements):
    """Entered (creation enters NEW; period start inclusive, end exclusive), still there,
    median hours to the next change and QUALIFIED ÷ NEW match the history, in one statement;
    another workspace's identical history changes nothing."""
    await build_history(tenant.workspace.id, HISTORY)
    other = await make_tenant("Other")
    await build_history(other.workspace.id, HISTORY)
    variables = {"from": P0.isoformat(), "to": P1.isoformat()}
    count_statements.statements.clear()
    data = (await tenant.gql(FUNNEL, variables, role=Role.READ_ONLY))["leadFunnel"]
    assert len(count_statements.statements) == 1
    assert data == expected_funnel(HISTORY, P0, P1)
    # spelled out once, so a shared mistake in the reference cannot hide
    new, ready = data["stages"][0], data["stages"][1]
    assert new == {"status": "NEW", "entered": 4, "stillThere": 2, "medianHoursToNext": 24.0}
    assert ready["entered"] == 2 and ready["medianHoursToNext"] == (48 + 28 * 24) / 2
    assert data["conversionRate"] == 0.25


async def test_funnel_filter_other_periods_and_bad_period(tenant):
    """The lead filter narrows the leads; a period with no movement is all zeros; `to` not after
    `from` is BAD_USER_INPUT."""
    await build_history(tenant.workspace.id, HISTORY)
    variables = {"from": P0.isoformat(), "to": P1.isoformat(), "f": {"topic": {"eq": "Wind"}}}
    data = (await tenant.gql(FUNNEL, variables))["leadFunnel"]
    assert data == expected_funnel(HISTORY, P0, P1, topic="Wind")
    wide = {"from": "2025-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
    data = (await tenant.gql(FUNNEL, wide))["leadFunnel"]
    assert data == expected_funnel(
        HISTORY, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    empty = {"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}
    data = (await tenant.gql(FUNNEL, empty))["leadFunnel"]
    assert data["conversionRate"] == 0.0
    assert all(s["entered"] == 0 and s["medianHoursToNext"] is None for s in data["stages"])
    response = await tenant.post(FUNNEL, {"from": P1.isoformat(), "to": P0.isoformat()})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


HISTOGRAM = """query($m: ID, $b: Int, $f: LeadFilter) {
  scoreHistogram(modelId: $m, bucketSize: $b, filter: $f) { from to count } }"""


async def scored_leads(workspace_id: int, scores: list[int | None], topic: str = "T") -> None:
    model = await ScoringModel.get(workspace_id=workspace_id, primary=True)
    for i, score in enumerate(scores):
        lead = await Lead.create(workspace_id=workspace_id, topic=topic, last_name=f"S{i}")
        if score is not None:
            await LeadScore.create(
                workspace_id=workspace_id, lead_id=lead.id, model_id=model.id, score=score
            )


def expected_histogram(scores: list[int | None], size: int) -> list[dict]:
    present = [s for s in scores if s is not None]
    if not present:
        return []
    low, high = min(present) // size * size, max(present) // size * size
    return [
        {"from": b, "to": b + size, "count": sum(1 for s in present if b <= s < b + size)}
        for b in range(low, high + 1, size)
    ]


async def test_histogram_edges_negative_scores_and_gaps(tenant, make_tenant, count_statements):
    """Each score falls in [from, to) (a score equal to a bucket's start is in it, negative
    scores in negative buckets); empty buckets between the extremes are listed with 0; leads
    without a score row and other workspaces do not count; one statement."""
    scores = [-15, -10, -1, 0, 9, 10, 25, None]
    await scored_leads(tenant.workspace.id, scores)
    other = await make_tenant("Other")
    await scored_leads(other.workspace.id, [500, -500])
    count_statements.statements.clear()
    data = (await tenant.gql(HISTOGRAM, {}))["scoreHistogram"]
    assert len(count_statements.statements) == 1
    assert data == expected_histogram(scores, 10)
    assert data[:2] == [{"from": -20, "to": -10, "count": 1}, {"from": -10, "to": 0, "count": 2}]
    for size in (1, 5, 7, 100, 2**31 - 1):
        got = (await tenant.gql(HISTOGRAM, {"b": size}))["scoreHistogram"]
        assert got == expected_histogram(scores, size), size
    assert {"from": 15, "to": 20, "count": 0} in (await tenant.gql(HISTOGRAM, {"b": 5}))[
        "scoreHistogram"
    ]


async def test_histogram_filter_model_and_bad_input(tenant):
    """The filter narrows the leads, `modelId` picks another model's scores, and a bucket size
    below 1 or a model that is not the caller's is BAD_USER_INPUT."""
    await scored_leads(tenant.workspace.id, [1, 2, 3], topic="A")
    await scored_leads(tenant.workspace.id, [40], topic="B")
    data = (await tenant.gql(HISTOGRAM, {"f": {"topic": {"eq": "B"}}}))["scoreHistogram"]
    assert data == [{"from": 40, "to": 50, "count": 1}]
    model = await ScoringModel.create(
        workspace_id=tenant.workspace.id, name="M2", sales_ready_threshold=1
    )
    lead = await Lead.filter(workspace_id=tenant.workspace.id).first()
    await LeadScore.create(
        workspace_id=tenant.workspace.id, lead_id=lead.id, model_id=model.id, score=-3
    )
    m = str(relay.GlobalID("ScoringModel", str(model.id)))
    data = (await tenant.gql(HISTOGRAM, {"m": m}))["scoreHistogram"]
    assert data == [{"from": -10, "to": 0, "count": 1}]
    for variables in ({"b": 0}, {"m": str(relay.GlobalID("ScoringModel", "999999"))}):
        response = await tenant.post(HISTOGRAM, variables)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
