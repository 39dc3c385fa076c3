"""scoringModels, createScoringModel, updateScoringModel, previewScoringModel."""

import math
from datetime import UTC, datetime

import orjson
from tortoise.transactions import in_transaction

from api.context import Info
from api.errors import BadUserInput
from api.inputs.scoring import (
    CreateScoringModelInput,
    GradeInput,
    ScoringRuleInput,
    UpdateScoringModelInput,
)
from api.types.common import Connection
from api.types.scoring import (
    GradeCount,
    ScorePreview,
    ScoringModel,
    ScoringModelPayload,
    ScoringModelPreview,
)
from models import ScoringModel as ScoringModelRow
from models.errors import DomainError, DomainErrors, ErrorCode
from models.rescoring import Scope, refresh_lead_summary, rescore, score_select
from models.scoring import Frequency, Rule
from models.sql import Sql, connection, fetch, is_postgres
from models.validation import Text, camel, clean_fields
from resolvers.filtering import lead_condition
from resolvers.mutations import fetch_in_workspace, given, user_errors
from resolvers.pagination import PageArgs, SortKey, count, fetch_page, page_size, to_connection
from resolvers.stored_filters import dump_lead_filter, load_lead_filter, refused_fields

MAX_RULES = 100
MAX_POINTS = 100_000


async def scoring_models(info: Info) -> list[ScoringModel]:
    return list((await info.context.loaders.scoring_models()).values())


MAX_FILTER_BYTES = 8_192


def validate_lead_filter(value, path: list[str]) -> tuple[dict | None, list[DomainError]]:
    """A LeadFilter input as the JSON to store, or why a rule may not use it."""
    if value is None:
        return None, []
    data = dump_lead_filter(value)
    errors = [
        DomainError(
            ErrorCode.INVALID,
            f"{name} cannot be used here: re-scoring itself changes it.",
            [*path, *name.split(".")],
        )
        for name in refused_fields(data)
    ]
    if len(orjson.dumps(data)) > MAX_FILTER_BYTES:
        errors.append(
            DomainError(ErrorCode.INVALID, f"The filter exceeds {MAX_FILTER_BYTES} bytes.", path)
        )
    if not errors:
        try:
            lead_condition(load_lead_filter(data), "l", Sql(False))
        except BadUserInput as e:
            errors.append(DomainError(ErrorCode.INVALID, str(e), path))
    return data, errors


def _metadata_errors(pattern, path: list[str]) -> list[DomainError]:
    if not isinstance(pattern, dict) or not pattern:
        return [DomainError(ErrorCode.INVALID, "metadataContains must be a JSON object.", path)]
    if len(orjson.dumps(pattern)) > MAX_FILTER_BYTES:
        return [DomainError(ErrorCode.INVALID, f"At most {MAX_FILTER_BYTES} bytes.", path)]

    def bad_keys(value) -> bool:
        if isinstance(value, dict):
            return any('"' in k or "\\" in k or bad_keys(v) for k, v in value.items())
        if isinstance(value, list):
            return any(bad_keys(v) for v in value)
        return isinstance(value, float) and not math.isfinite(value)

    if bad_keys(pattern):
        return [
            DomainError(
                ErrorCode.INVALID,
                "metadataContains keys may not hold quotes or backslashes, nor its values NaN "
                "or Infinity.",
                path,
            )
        ]
    return []


def validate_rules(rules: list[ScoringRuleInput]) -> tuple[list[dict], list[DomainError]]:
    errors: list[DomainError] = []
    if len(rules) > MAX_RULES:
        errors.append(DomainError(ErrorCode.INVALID, f"At most {MAX_RULES} rules.", ["rules"]))
    parsed = []
    for index, r in enumerate(rules):
        path = ["rules", str(index)]
        if abs(r.points) > MAX_POINTS:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, f"points must be within ±{MAX_POINTS}.", [*path, "points"]
                )
            )
        min_count = 1 if r.min_count is None else r.min_count
        frequency = Frequency(r.frequency or Frequency.EACH)
        if min_count < 1:
            errors.append(
                DomainError(ErrorCode.INVALID, "minCount must be at least 1.", [*path, "minCount"])
            )
        if r.max_points is not None and not 0 <= r.max_points <= MAX_POINTS:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, f"maxPoints must be 0 to {MAX_POINTS}.", [*path, "maxPoints"]
                )
            )
        if r.within_days is not None and not 1 <= r.within_days <= 3650:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, "withinDays must be 1 to 3650.", [*path, "withinDays"]
                )
            )
        if (r.interaction_type is None) == (r.lead_matches is None):
            errors.append(
                DomainError(
                    ErrorCode.INVALID,
                    "Give exactly one of interactionType and leadMatches.",
                    [*path, "interactionType"],
                )
            )
        lead_matches, filter_errors = validate_lead_filter(r.lead_matches, [*path, "leadMatches"])
        errors += filter_errors
        if lead_matches is not None:
            extras = {
                "metadataContains": r.metadata_contains,
                "halfLifeDays": r.half_life_days,
                "withinDays": r.within_days,
                "maxPoints": r.max_points,
                "frequency": None if frequency is Frequency.EACH else frequency,
                "minCount": None if min_count == 1 else min_count,
            }
            errors += [
                DomainError(
                    ErrorCode.INVALID,
                    f"An attribute rule (leadMatches) takes points only, not {name}.",
                    [*path, name],
                )
                for name, value in extras.items()
                if value is not None
            ]
        if r.metadata_contains is not None:
            errors += _metadata_errors(r.metadata_contains, [*path, "metadataContains"])
        if r.half_life_days is not None:
            if not 1 <= r.half_life_days <= 3650:
                errors.append(
                    DomainError(
                        ErrorCode.INVALID,
                        "halfLifeDays must be 1 to 3650.",
                        [*path, "halfLifeDays"],
                    )
                )
            if frequency is not Frequency.EACH:
                errors.append(
                    DomainError(
                        ErrorCode.INVALID,
                        "halfLifeDays applies to EACH rules only.",
                        [*path, "halfLifeDays"],
                    )
                )
        rule = Rule(
            interaction_type=r.interaction_type.value if r.interaction_type else None,
            points=r.points,
            frequency=frequency,
            min_count=min_count,
            max_points=r.max_points,
            within_days=r.within_days,
            lead_matches=lead_matches,
            metadata_contains=r.metadata_contains,
            half_life_days=r.half_life_days,
        )
        parsed.append(rule.to_json())
    return parsed, errors


def validate_grades(grades: list[GradeInput]) -> tuple[list[dict], list[DomainError]]:
    errors: list[DomainError] = []
    labels, scores, parsed = set(), set(), []
    for index, g in enumerate(grades):
        label = g.label.strip()
        path = ["grades", str(index)]
        if not 1 <= len(label) <= 50:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, "label must be 1 to 50 characters.", [*path, "label"]
                )
            )
        if label in labels or g.min_score in scores:
            errors.append(
                DomainError(ErrorCode.INVALID, "Grade labels and minScores must be unique.", path)
            )
        labels.add(label)
        scores.add(g.min_score)
        parsed.append({"label": label, "min_score": g.min_score})
    return parsed, errors


def _validate(input_) -> dict:
    """Every field the input sets, cleaned; raises DomainErrors listing every problem."""
    values, errors = clean_fields(given(input_, ["name"]), {"name": Text(200, required=True)})
    sent = given(input_, ["sales_ready_threshold", "active", "primary", "rules", "grades"])
    for name in ("sales_ready_threshold", "active", "primary", "rules"):
        if name in sent and sent[name] is None:
            errors.append(
                DomainError(ErrorCode.INVALID, f"{camel(name)} may not be null.", [camel(name)])
            )
        elif name in sent:
            values[name] = sent[name]
    if values.get("rules") is not None:
        values["rules"], rule_errors = validate_rules(values["rules"])
        errors += rule_errors
    if "grades" in sent:
        values["grades"], grade_errors = validate_grades(sent["grades"] or [])
        errors += grade_errors
    if "applies_to" in (sent := given(input_, ["applies_to"])):
        values["applies_to"], filter_errors = validate_lead_filter(
            sent["applies_to"], ["appliesTo"]
        )
        errors += filter_errors
    if values.get("primary") and values.get("active") is False:
        errors.append(DomainError(ErrorCode.INVALID, "A primary model must be active.", ["active"]))
    if errors:
        raise DomainErrors(errors)
    return values


async def _apply_change(conn, row: ScoringModelRow, values: dict, actor: str | None) -> None:
    """Save, keep exactly one primary, and re-score every lead when the arithmetic changed."""
    workspace_id = row.workspace_id  # type: ignore[attr-defined]
    if values.get("primary"):
        await (
            ScoringModelRow.filter(workspace_id=workspace_id, primary=True)
            .exclude(id=row.id)
            .using_db(conn)
            .update(primary=False)
        )
    row.update_from_dict(values)
    await row.save(using_db=conn)
    scoring_changed = row.active and bool(
        {"rules", "sales_ready_threshold", "grades", "active", "applies_to"} & set(values)
    )
    scope = Scope(workspace_id)
    if scoring_changed:
        await rescore(conn, scope, models=[row], actor=actor)
    else:
        await refresh_lead_summary(conn, scope)


async def create_scoring_model(info: Info, input: CreateScoringModelInput) -> ScoringModelPayload:
    workspace_id = info.context.workspace_id
    actor = info.context.principal.api_key_name if info.context.principal else None
    try:
        values = _validate(input)
        values.setdefault("grades", [])
        async with in_transaction() as conn:
            has_primary = (
                await ScoringModelRow.filter(workspace_id=workspace_id, primary=True)
                .using_db(conn)
                .exists()
            )
            if not has_primary:
                if values.get("active") is False:
                    raise DomainError(
                        ErrorCode.INVALID, "The workspace's first model must be active.", ["active"]
                    )
                values["primary"] = True
            row = ScoringModelRow(
                workspace_id=workspace_id, active=True, primary=False, rules=[], grades=[]
            )
            await _apply_change(conn, row, values, actor)
    except DomainErrors as e:
        return ScoringModelPayload(scoring_model=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return ScoringModelPayload(scoring_model=None, user_errors=user_errors([e]))
    return ScoringModelPayload(scoring_model=ScoringModel.from_model(row), user_errors=[])


async def update_scoring_model(info: Info, input: UpdateScoringModelInput) -> ScoringModelPayload:
    workspace_id = info.context.workspace_id
    actor = info.context.principal.api_key_name if info.context.principal else None
    try:
        values = _validate(input)
        async with in_transaction() as conn:
            row = await fetch_in_workspace(ScoringModelRow, input.id, workspace_id, "id", lock=True)
            if row.primary and (values.get("primary") is False or values.get("active") is False):
                raise DomainError(
                    ErrorCode.INVALID,
                    "The primary model stays primary and active until another is made primary.",
                    ["primary" if values.get("primary") is False else "active"],
                )
            await _apply_change(conn, row, values, actor)
    except DomainErrors as e:
        return ScoringModelPayload(scoring_model=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return ScoringModelPayload(scoring_model=None, user_errors=user_errors([e]))
    return ScoringModelPayload(scoring_model=ScoringModel.from_model(row), user_errors=[])


def _comparison(candidate: ScoringModelRow, workspace_id: int, q: Sql) -> str:
    """Each lead's candidate score next to its current (primary model) score."""
    rules = [Rule.from_json(r) for r in candidate.rules]
    select = score_select(candidate, rules, Scope(workspace_id), q, datetime.now(UTC))
    return (
        "(SELECT c.lead_id AS id, c.score, c.grade, c.ready, l.score AS current_score, "
        "l.grade AS current_grade, CASE WHEN ps.sales_ready THEN 1 ELSE 0 END AS current_ready "
        f"FROM ({select}) c JOIN lead l ON l.id = c.lead_id "
        'LEFT JOIN scoring_model pm ON pm.workspace_id = l.workspace_id AND pm."primary" '
        "LEFT JOIN lead_score ps ON ps.lead_id = l.id AND ps.model_id = pm.id)"
    )


CHANGED = (
    "(t.score <> t.current_score OR COALESCE(t.grade, '') <> COALESCE(t.current_grade, '') "
    "OR t.ready <> t.current_ready)"
)


async def preview_scoring_model(info: Info, input: CreateScoringModelInput) -> ScoringModelPreview:
    """What the model would do to every lead of the workspace; writes nothing."""
    workspace_id = info.context.workspace_id
    try:
        values = _validate(input)
    except DomainErrors as e:
        raise BadUserInput(
            "; ".join(f"{'.'.join(x.field or [])}: {x.message}" for x in e.errors)
        ) from None
    candidate = ScoringModelRow(
        id=0,
        workspace_id=workspace_id,
        name=values["name"],
        sales_ready_threshold=values["sales_ready_threshold"],
        rules=values["rules"],
        grades=values.get("grades", []),
        applies_to=values.get("applies_to"),
    )
    postgres = is_postgres(connection())
    q = Sql(postgres)
    compared = _comparison(candidate, workspace_id, q)
    totals = await fetch(
        f"SELECT COUNT(*) AS n, COALESCE(SUM(t.ready), 0) AS ready FROM {compared} t", q
    )
    q = Sql(postgres)
    grades = await fetch(
        f"SELECT t.grade, COUNT(*) AS n FROM {_comparison(candidate, workspace_id, q)} t "
        "GROUP BY t.grade ORDER BY COUNT(*) DESC, t.grade",
        q,
    )

    async def changes(info: Info, first: int | None, after: str | None) -> Connection[ScorePreview]:
        settings = info.context.settings
        args = PageArgs(first=first, after=after)
        size = page_size(args, default=settings.default_page_size, maximum=settings.max_page_size)
        q = Sql(postgres)
        source = _comparison(candidate, workspace_id, q)
        page = await fetch_page(
            table=source, where=CHANGED, q=q, keys=(SortKey("id"),), args=args, size=size
        )

        async def total() -> int:
            q = Sql(postgres)
            return await count(table=_comparison(candidate, workspace_id, q), where=CHANGED, q=q)

        def to_node(row: dict) -> ScorePreview:
            return ScorePreview(
                lead_id=row["id"],
                current_score=row["current_score"],
                score=row["score"],
                current_grade=row["current_grade"],
                grade=row["grade"],
                current_sales_ready=bool(row["current_ready"]),
                sales_ready=bool(row["ready"]),
            )

        return to_connection(page, to_node, total)

    return ScoringModelPreview(
        leads_scored=int(totals[0]["n"]),
        become_sales_ready=int(totals[0]["ready"]),
        grade_counts=[GradeCount(grade=r["grade"], count=int(r["n"])) for r in grades],
        changes_page=changes,
    )
