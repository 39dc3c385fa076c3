"""Pure scoring arithmetic: rules + interaction counts -> score, grade, breakdown. No I/O.

`models.rescoring` compiles the same arithmetic into SQL for set-based re-scoring; this module
is the reference the tests hold it to, and what explains a stored score at read time.

A rule is either an interaction rule (`interaction_type`, optionally narrowed by
`metadata_contains` and `within_days`, optionally decayed by `half_life_days`) or an attribute
rule (`lead_matches`, a stored LeadFilter): the latter's n is 1 when the lead matches, else 0.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Frequency(StrEnum):
    EACH = "EACH"
    AT_LEAST = "AT_LEAST"
    NONE = "NONE"


@dataclass(frozen=True)
class Rule:
    interaction_type: str | None
    points: int
    frequency: Frequency = Frequency.EACH
    min_count: int = 1
    max_points: int | None = None
    within_days: int | None = None
    lead_matches: dict[str, Any] | None = None
    metadata_contains: dict[str, Any] | None = None
    half_life_days: int | None = None

    @property
    def is_attribute(self) -> bool:
        return self.lead_matches is not None

    @property
    def decays(self) -> bool:
        return self.half_life_days is not None and self.frequency is Frequency.EACH

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Rule":
        return cls(
            interaction_type=data.get("interaction_type"),
            points=data["points"],
            frequency=Frequency(data.get("frequency", "EACH")),
            min_count=data.get("min_count", 1),
            max_points=data.get("max_points"),
            within_days=data.get("within_days"),
            lead_matches=data.get("lead_matches"),
            metadata_contains=data.get("metadata_contains"),
            half_life_days=data.get("half_life_days"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "interaction_type": self.interaction_type,
            "points": self.points,
            "frequency": self.frequency.value,
            "min_count": self.min_count,
            "max_points": self.max_points,
            "within_days": self.within_days,
            "lead_matches": self.lead_matches,
            "metadata_contains": self.metadata_contains,
            "half_life_days": self.half_life_days,
        }


@dataclass(frozen=True)
class Grade:
    label: str
    min_score: int


def round_half_away(value: float) -> int:
    """2.5 -> 3, -2.5 -> -3 (not Python's round-half-to-even)."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def decay_factor(age_days: float, half_life_days: int) -> float:
    """0.5^(age / half-life); interactions dated (slightly) in the future count fully."""
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


def age_days(now: datetime, occurred_at: datetime) -> float:
    return (now - occurred_at).total_seconds() / 86400.0


def metadata_contains(metadata: Any, pattern: Any) -> bool:
    """PostgreSQL's jsonb containment (`metadata @> pattern`) in Python."""
    if isinstance(pattern, dict):
        return isinstance(metadata, dict) and all(
            key in metadata and metadata_contains(metadata[key], value)
            for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(metadata, list) and all(
            any(metadata_contains(item, wanted) for item in metadata) for wanted in pattern
        )
    if isinstance(pattern, bool) or isinstance(metadata, bool):
        return isinstance(pattern, bool) and isinstance(metadata, bool) and pattern == metadata
    if isinstance(pattern, int | float) and isinstance(metadata, int | float):
        return float(pattern) == float(metadata)
    return type(pattern) is type(metadata) and pattern == metadata


def tally(
    rule: Rule,
    interactions: Iterable[tuple[str, datetime, Any]],
    now: datetime,
    *,
    lead_matches: bool = False,
) -> tuple[int, float | None]:
    """(n, decayed sum) of a rule over a lead's (type, occurredAt, metadata) interactions.

    The reference for the SQL: attribute rules take the match from `lead_matches`."""
    if rule.is_attribute:
        return (1 if lead_matches else 0), None
    n, decayed = 0, 0.0
    for type_, occurred_at, metadata in interactions:
        if type_ != rule.interaction_type:
            continue
        if rule.within_days is not None and age_days(now, occurred_at) > rule.within_days:
            continue
        if rule.metadata_contains is not None and not metadata_contains(
            metadata, rule.metadata_contains
        ):
            continue
        n += 1
        if rule.decays:
            decayed += decay_factor(age_days(now, occurred_at), rule.half_life_days)  # type: ignore[arg-type]
    return n, (decayed if rule.decays else None)


def contribution(rule: Rule, n: int, decayed: float | None = None) -> int:
    """What a rule adds for n matching interactions (attribute rules: n is 1 on a match).

    Decayed EACH rules use `decayed` (the sum of 0.5^(age/halfLife)) instead of n; the product
    is capped, then rounded half away from zero."""
    if rule.is_attribute:
        return rule.points if n else 0
    if rule.frequency is Frequency.EACH:
        if rule.decays:
            raw: float = rule.points * (decayed or 0.0)
            if rule.max_points is not None:
                cap = abs(rule.max_points)
                raw = max(-cap, min(cap, raw))
            return round_half_away(raw)
        total = rule.points * n
        if rule.max_points is not None:
            cap = abs(rule.max_points)
            total = max(-cap, min(cap, total))
        return total
    if rule.frequency is Frequency.AT_LEAST:
        return rule.points if n >= rule.min_count else 0
    return rule.points if n == 0 else 0


def score(rules: list[Rule], counts: list[int], decayed: list[float | None] | None = None) -> int:
    decayed = decayed if decayed is not None else [None] * len(rules)
    return sum(contribution(r, n, d) for r, n, d in zip(rules, counts, decayed, strict=True))


def grade(grades: list[Grade], value: int) -> str | None:
    """The label of the grade with the highest minScore at or below the score."""
    reached = [g for g in grades if g.min_score <= value]
    return max(reached, key=lambda g: g.min_score).label if reached else None


def breakdown(
    rules: list[Rule], counts: list[int], contributions: list[int] | None = None
) -> list[tuple[Rule, int, int]]:
    """(rule, n, contribution) for every rule that contributed something; stored
    `contributions` (needed for decayed rules) win over recomputing from n."""
    if contributions is None or len(contributions) != len(rules):
        contributions = [contribution(r, n) for r, n in zip(rules, counts, strict=True)]
    rows = list(zip(rules, counts, contributions, strict=True))
    return [row for row in rows if row[2] != 0]


DEFAULT_MODEL = {
    "name": "Engagement",
    "sales_ready_threshold": 30,
    "rules": [
        Rule("EMAIL_OPENED", 1, max_points=10),
        Rule("EMAIL_CLICKED", 3, max_points=15),
        Rule("FORM_SUBMITTED", 10, max_points=30),
        Rule("PAGE_VISITED", 1, max_points=10, within_days=30),
        Rule("CONTENT_DOWNLOADED", 5, max_points=15),
        Rule("EVENT_REGISTERED", 5, Frequency.AT_LEAST),
        Rule("EVENT_ATTENDED", 10, Frequency.AT_LEAST),
        Rule("PHONE_CALL", 5, max_points=15),
        Rule("MEETING", 15, Frequency.AT_LEAST),
        Rule("EMAIL_BOUNCED", -5, max_points=10),
        Rule("UNSUBSCRIBED", -20, Frequency.AT_LEAST),
        Rule("PAGE_VISITED", -5, Frequency.NONE, within_days=60),
    ],
    "grades": [Grade("A", 45), Grade("B", 30), Grade("C", 15), Grade("D", 0)],
}
