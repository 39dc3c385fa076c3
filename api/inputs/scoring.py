import strawberry
from strawberry import relay

from api.inputs.filters import InteractionTypeEnum
from models.scoring import Frequency

RuleFrequency = strawberry.enum(
    Frequency,
    name="RuleFrequency",
    description="EACH: points per interaction (capped by maxPoints); AT_LEAST: points once when "
    "there are at least minCount; NONE: points when there are none (for penalties).",
)


@strawberry.input(description="One rule: an interaction type and the points it is worth.")
class ScoringRuleInput:
    interaction_type: InteractionTypeEnum
    points: int
    frequency: RuleFrequency | None = Frequency.EACH
    min_count: int | None = 1
    max_points: int | None = None
    within_days: int | None = None


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


@strawberry.input(description="Changes to a scoring model; rules and grades are replaced whole.")
class UpdateScoringModelInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    sales_ready_threshold: int | None = strawberry.UNSET
    rules: list[ScoringRuleInput] | None = strawberry.UNSET
    grades: list[GradeInput] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    primary: bool | None = strawberry.UNSET
