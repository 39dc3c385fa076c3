"""The pure scoring arithmetic (models.scoring): frequencies, caps, penalties, grades."""

import pytest

from models.scoring import Frequency, Grade, Rule, breakdown, contribution, grade, score

EACH = Frequency.EACH


@pytest.mark.parametrize(
    ("rule", "n", "expected"),
    [
        (Rule("EMAIL_OPENED", 2), 0, 0),
        (Rule("EMAIL_OPENED", 2), 7, 14),
        (Rule("EMAIL_OPENED", 2, max_points=10), 7, 10),  # capped
        (Rule("EMAIL_BOUNCED", -4, max_points=10), 7, -10),  # capped in absolute value
        (Rule("EMAIL_BOUNCED", -4, max_points=-10), 2, -8),
        (Rule("MEETING", 15, Frequency.AT_LEAST, min_count=2), 1, 0),
        (Rule("MEETING", 15, Frequency.AT_LEAST, min_count=2), 2, 15),
        (Rule("MEETING", 15, Frequency.AT_LEAST, min_count=2), 9, 15),
        (Rule("PAGE_VISITED", -5, Frequency.NONE), 0, -5),
        (Rule("PAGE_VISITED", -5, Frequency.NONE), 1, 0),
    ],
)
def test_contribution(rule, n, expected):
    assert contribution(rule, n) == expected


def test_score_grade_and_breakdown():
    rules = [
        Rule("EMAIL_OPENED", 1, max_points=3),
        Rule("FORM_SUBMITTED", 10),
        Rule("UNSUBSCRIBED", -20, Frequency.AT_LEAST),
        Rule("PAGE_VISITED", -5, Frequency.NONE),
    ]
    counts = [5, 2, 0, 1]
    assert score(rules, counts) == 3 + 20
    assert breakdown(rules, counts) == [(rules[0], 5, 3), (rules[1], 2, 20)]
    grades = [Grade("A", 20), Grade("B", 10), Grade("Z", -100)]
    assert grade(grades, 23) == "A"
    assert grade(grades, 19) == "B"
    assert grade(grades, -50) == "Z"
    assert grade(grades, -101) is None
    assert grade([], 5) is None
