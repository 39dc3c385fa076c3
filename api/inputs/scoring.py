import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.inputs.filters import InteractionTypeEnum, LeadFilter
from models.scoring import Frequency

RuleFrequency = strawberry.enum(
    Frequency,
    name="RuleFrequency",
    description="EACH: points per interaction (capped by maxPoints); AT_LEAST: points once when "
    "there are at least minCount; NONE: points when there are none (for penalties).",
)


@strawberry.input(
    description="One rule: an interaction type (interaction rule) or a lead filter (attribute "
    "rule), and the points it is worth. Give exactly one of interactionType and leadMatches."
)
class ScoringRuleInput:
    interaction_type: InteractionTypeEnum | None = None
    points: int
    frequency: RuleFrequency | None = Frequency.EACH
    min_count: int | None = 1
    max_points: int | None = None
    within_days: int | None = None
    lead_matches: LeadFilter | None = strawberry.field(
        default=None,
        description="Attribute rule: the points, once, when the lead matches this filter (the "
        "list filters' language over lead, contact and account fields; not score, salesReady or "
        "status, which re-scoring itself changes).",
    )
    metadata_contains: JSON | None = strawberry.field(
        default=None,
        description="Interaction rule: only interactions whose metadata contains this JSON object "
        "(jsonb containment: every key present with an equal or containing value).",
    )
    half_life_days: int | None = strawberry.field(
        default=None,
        description="Interaction rule, EACH: each interaction's points are multiplied by "
        "0.5^(age in days / halfLifeDays) before the cap; the rule's sum is rounded half away "
        "from zero. 1 to 3650.",
    )


@strawberry.input(description="A grade label, reached from minScore up.")
class GradeInput:
    label: str
    min_score: int


@strawberry.input(description="A new scoring model (the workspace's first one becomes primary).")
class CreateScoringModelInput:
    name: str
    sales_ready_threshold: int
    rules: list[ScoringRuleInput]
    grades: list[GradeInput] | None = None
    active: bool | None = True
    primary: bool | None = False
    applies_to: LeadFilter | None = strawberry.field(
        default=None,
        description="Entry criteria: only leads matching this filter are scored by the model; "
        "others have no score under it (same limits as leadMatches).",
    )


@strawberry.input(description="Changes to a scoring model; rules and grades are replaced whole.")
class UpdateScoringModelInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    sales_ready_threshold: int | None = strawberry.UNSET
    rules: list[ScoringRuleInput] | None = strawberry.UNSET
    grades: list[GradeInput] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    primary: bool | None = strawberry.UNSET
    applies_to: LeadFilter | None = strawberry.field(
        default=strawberry.UNSET, description="New entry criteria; null scores every lead."
    )
