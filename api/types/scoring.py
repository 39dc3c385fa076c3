"""Scoring models, lead scores with their breakdown, score changes, previews."""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.context import Info
from api.inputs.filters import InteractionTypeEnum
from api.inputs.scoring import RuleFrequency
from api.types.common import Connection, UserError
from models import scoring
from models.explanations import reason

if TYPE_CHECKING:
    from api.types.lead import Lead

LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]


@strawberry.type(
    description="How one interaction type (interaction rule) or one lead filter (attribute rule) "
    "turns into points."
)
class ScoringRule:
    interaction_type: InteractionTypeEnum | None = strawberry.field(
        description="The interaction type counted; null for an attribute rule."
    )
    frequency: RuleFrequency
    min_count: int
    points: int
    max_points: int | None = strawberry.field(
        description="EACH rules: the contribution is capped at this absolute value."
    )
    within_days: int | None = strawberry.field(
        description="Only interactions of the last this many days count."
    )
    lead_matches: JSON | None = strawberry.field(
        description="Attribute rule: the LeadFilter a lead must match to get the points once."
    )
    metadata_contains: JSON | None = strawberry.field(
        description="Only interactions whose metadata contains this JSON object count."
    )
    half_life_days: int | None = strawberry.field(
        description="EACH rules: each interaction's points halve every this many days."
    )

    @classmethod
    def from_rule(cls, rule: scoring.Rule) -> "ScoringRule":
        return cls(
            interaction_type=(
                InteractionTypeEnum(rule.interaction_type) if rule.interaction_type else None
            ),
            frequency=rule.frequency,
            min_count=rule.min_count,
            points=rule.points,
            max_points=rule.max_points,
            within_days=rule.within_days,
            lead_matches=rule.lead_matches,
            metadata_contains=rule.metadata_contains,
            half_life_days=rule.half_life_days,
        )


@strawberry.type(description="A grade label reached from `minScore` up.")
class Grade:
    label: str
    min_score: int


@strawberry.type(description="A set of rules, grades and a sales-ready threshold.")
class ScoringModel(relay.Node):
    id: relay.NodeID[int]
    name: str
    primary: bool = strawberry.field(description="Lead.score and Lead.grade use this model.")
    active: bool
    sales_ready_threshold: int
    rules: list[ScoringRule]
    grades: list[Grade]
    applies_to: JSON | None = strawberry.field(
        description="Entry criteria (a LeadFilter): leads outside have no score under this model."
    )
    created_at: datetime
    updated_at: datetime
    parsed_rules: strawberry.Private[list[scoring.Rule]]

    @classmethod
    def from_model(cls, row) -> "ScoringModel":
        rules = [scoring.Rule.from_json(r) for r in row.rules]
        return cls(
            id=row.id,
            name=row.name,
            primary=row.primary,
            active=row.active,
            sales_ready_threshold=row.sales_ready_threshold,
            rules=[ScoringRule.from_rule(r) for r in rules],
            grades=[Grade(label=g["label"], min_score=g["min_score"]) for g in row.grades],
            applies_to=row.applies_to,
            created_at=row.created_at,
            updated_at=row.updated_at,
            parsed_rules=rules,
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_scoring_models(node_ids)


@strawberry.type(description="Why a score is what it is: one rule's part in it.")
class ScoreContribution:
    rule: ScoringRule
    count: int = strawberry.field(description="How many counted interactions the rule matched.")
    points: int = strawberry.field(description="What the rule added (negative: subtracted).")
    reason: str = strawberry.field(
        description="Why, in words: \"contact.jobTitle contains 'Director'\", "
        '"3 × EMAIL_CLICKED (decayed, half-life 30 days)".'
    )


@strawberry.type(description="A lead's score under one active scoring model.")
class LeadScore:
    model: ScoringModel
    score: int
    grade: str | None
    sales_ready: bool
    counts: strawberry.Private[list[int]]
    contributions: strawberry.Private[list[int] | None] = None

    @strawberry.field(description="Every rule with a non-zero contribution.")
    def breakdown(self) -> list[ScoreContribution]:
        rules = self.model.parsed_rules
        counts = self.counts if len(self.counts) == len(rules) else [0] * len(rules)
        return [
            ScoreContribution(
                rule=ScoringRule.from_rule(rule), count=n, points=points, reason=reason(rule, n)
            )
            for rule, n, points in scoring.breakdown(rules, counts, self.contributions)
        ]


@strawberry.type(description="How one interaction moved one lead's score under one model.")
class ScoreChange:
    lead_id: strawberry.Private[int]
    model: ScoringModel
    previous_score: int
    score: int
    grade: str | None
    sales_ready: bool
    became_sales_ready: bool = strawberry.field(
        description="This change made the lead SALES_READY (marketing-qualified)."
    )

    @strawberry.field(description="The lead, as stored after the change.")
    def lead(self, info: Info) -> LeadRef:
        return info.context.loaders.lead_by_id.load(self.lead_id)


@strawberry.type(description="The result of creating or updating a scoring model.")
class ScoringModelPayload:
    scoring_model: ScoringModel | None
    user_errors: list[UserError]


@strawberry.type(description="How many leads would get a grade (null: no grade).")
class GradeCount:
    grade: str | None
    count: int


@strawberry.type(description="One lead whose score, grade or readiness a model would change.")
class ScorePreview:
    lead_id: strawberry.Private[int]
    current_score: int
    score: int
    current_grade: str | None
    grade: str | None
    current_sales_ready: bool
    sales_ready: bool

    @strawberry.field
    def lead(self, info: Info) -> LeadRef:
        return info.context.loaders.lead_by_id.load(self.lead_id)


@strawberry.type(description="What a scoring model would do, computed without writing anything.")
class ScoringModelPreview:
    leads_scored: int
    become_sales_ready: int = strawberry.field(
        description="How many leads would be sales-ready under this model."
    )
    grade_counts: list[GradeCount]
    changes_page: strawberry.Private[object]

    @strawberry.field(
        description="Leads whose score, grade or readiness would differ from the primary model."
    )
    async def changes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ScorePreview]:
        return await self.changes_page(info, first, after)  # type: ignore[operator]
