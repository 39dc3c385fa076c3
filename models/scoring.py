"""Pure scoring arithmetic: rules + interaction counts -> score, grade, breakdown. No I/O.

`models.rescoring` compiles the same arithmetic into SQL for set-based re-scoring; this module
is the reference the tests hold it to, and what explains a stored score at read time.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Frequency(StrEnum):
    EACH = "EACH"
    AT_LEAST = "AT_LEAST"
    NONE = "NONE"


@dataclass(frozen=True)
class Rule:
    interaction_type: str
    points: int
    frequency: Frequency = Frequency.EACH
    min_count: int = 1
    max_points: int | None = None
    within_days: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Rule":
        return cls(
            interaction_type=data["interaction_type"],
            points=data["points"],
            frequency=Frequency(data.get("frequency", "EACH")),
            min_count=data.get("min_count", 1),
            max_points=data.get("max_points"),
            within_days=data.get("within_days"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "interaction_type": self.interaction_type,
            "points": self.points,
            "frequency": self.frequency.value,
            "min_count": self.min_count,
            "max_points": self.max_points,
            "within_days": self.within_days,
        }


@dataclass(frozen=True)
class Grade:
    label: str
    min_score: int


def contribution(rule: Rule, n: int) -> int:
    if rule.frequency is Frequency.EACH:
        total = rule.points * n
        if rule.max_points is not None:
            cap = abs(rule.max_points)
            total = max(-cap, min(cap, total))
        return total
    if rule.frequency is Frequency.AT_LEAST:
        return rule.points if n >= rule.min_count else 0
    return rule.points if n == 0 else 0


def score(rules: list[Rule], counts: list[int]) -> int:
    return sum(contribution(r, n) for r, n in zip(rules, counts, strict=True))


def grade(grades: list[Grade], value: int) -> str | None:
    """The label of the grade with the highest minScore at or below the score."""
    reached = [g for g in grades if g.min_score <= value]
    return max(reached, key=lambda g: g.min_score).label if reached else None


def breakdown(rules: list[Rule], counts: list[int]) -> list[tuple[Rule, int, int]]:
    """(rule, n, contribution) for every rule that contributed something."""
    rows = [(r, n, contribution(r, n)) for r, n in zip(rules, counts, strict=True)]
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
