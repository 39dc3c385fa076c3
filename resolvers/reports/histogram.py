"""scoreHistogram: leads per score bucket under one scoring model, in one statement."""

from strawberry import relay

from api.context import Info
from api.errors import BadUserInput
from api.inputs.filters import LeadFilter
from api.types.reports import ScoreBucket
from models.sql import Sql, conjunction, connection, fetch, is_postgres
from resolvers.filtering import lead_condition
from resolvers.reports.stats import model_subquery

DEFAULT_BUCKET_SIZE = 10


def histogram_sql(
    q: Sql,
    workspace_id: int,
    prefix: str,
    *,
    model_id: relay.GlobalID | None,
    bucket_size: int | None,
    filter: LeadFilter | None,
) -> tuple[tuple[str, ...], str, str]:
    """(common table expressions, the bucket size's placeholder, the buckets' CTE): the model
    CTE `<prefix>_model` holds the chosen model's id; `<prefix>_buckets` the non-empty buckets
    (`low`, `n`)."""
    bucket_size = DEFAULT_BUCKET_SIZE if bucket_size is None else bucket_size
    if bucket_size < 1:
        raise BadUserInput("bucketSize must be at least 1.")
    model = model_subquery(model_id, workspace_id, q)
    size = q.param(bucket_size)
    # score - (score mod size), with a remainder that is never negative, on both databases
    # (in 64 bits: score mod size + size overflows 32 bits for sizes near the Int maximum)
    score = "CAST(s.score AS BIGINT)"
    low = f"({score} - (({score} % {size}) + {size}) % {size})"
    where = conjunction(
        [f"t.workspace_id = {q.param(workspace_id)}", lead_condition(filter, "t", q)]
    )
    m, buckets = f"{prefix}_model", f"{prefix}_buckets"
    ctes = (
        f"{m} AS ({model} LIMIT 1)",
        f"{buckets} AS (SELECT {low} AS low, COUNT(*) AS n "
        "FROM lead_score s JOIN lead t ON t.id = s.lead_id "
        f"WHERE s.model_id = (SELECT id FROM {m}) AND {where} GROUP BY 1)",
    )
    return ctes, size, buckets


async def score_histogram(
    info: Info,
    model_id: relay.GlobalID | None = None,
    bucket_size: int | None = DEFAULT_BUCKET_SIZE,
    filter: LeadFilter | None = None,
) -> list[ScoreBucket]:
    """Buckets [from, from + bucketSize) from the lowest to the highest non-empty one, empty
    ones in between included; negative scores fall in negative buckets (floor division)."""
    cap = info.context.settings.max_report_groups
    q = Sql(is_postgres(connection()))
    ctes, _, buckets = histogram_sql(
        q,
        info.context.workspace_id,
        "lg",
        model_id=model_id,
        bucket_size=bucket_size,
        filter=filter,
    )
    bucket_size = DEFAULT_BUCKET_SIZE if bucket_size is None else bucket_size
    sql = (
        f"WITH {', '.join(ctes)} SELECT b.low, b.n, 0 AS lg_model_row FROM {buckets} b "
        "UNION ALL SELECT NULL, 0, 1 FROM lg_model"
    )
    rows = await fetch(sql, q)
    if model_id is not None and not any(r["lg_model_row"] for r in rows):
        raise BadUserInput("modelId: no scoring model with this ID in your workspace.")
    counts = {int(r["low"]): int(r["n"]) for r in rows if not r["lg_model_row"]}
    if not counts:
        return []
    lowest, highest = min(counts), max(counts)
    if (highest - lowest) // bucket_size + 1 > cap:
        raise BadUserInput(
            f"More than {cap} buckets between the lowest and highest score: use a larger "
            "bucketSize (LEADGRAPH_MAX_REPORT_GROUPS)."
        )
    return [
        ScoreBucket(from_=start, to=start + bucket_size, count=counts.get(start, 0))
        for start in range(lowest, highest + 1, bucket_size)
    ]
