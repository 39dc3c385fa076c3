"""Fields computed from JSON columns: a lead's scores with their breakdown, a scoring model's
rules and grades. The breakdown is `api.types.scoring.LeadScore.breakdown` written in SQL: the
stored per-rule contributions when the re-score wrote them, else `models.scoring.contribution`
recomputed from the stored counts (the tests hold the two paths to the same answers).

A contribution's `reason` is `models.explanations.reason` itself: the statement places the rule
and its count under REASON_KEY, and `explain` turns each into the text after the statement ran
(a lead filter described in words is a recursive function of the JSON, and the Python one is
the definition)."""

import secrets
from typing import Any

from models.explanations import reason
from models.scoring import Rule
from resolvers.compiler import outcomes, rollups, touches, webhooks

# Unguessable, so that no stored JSON (interaction metadata, say) can pass for a marker.
REASON_KEY = f"lg-reason-{secrets.token_hex(8)}"

# ScoringRule field -> (key in the stored rule, kind, default when the key is absent)
RULE_FIELDS = {
    "interactionType": ("interaction_type", "text", None),
    "frequency": ("frequency", "text", "'EACH'"),
    "minCount": ("min_count", "int", "1"),
    "points": ("points", "int", None),
    "maxPoints": ("max_points", "int", None),
    "withinDays": ("within_days", "int", None),
    "halfLifeDays": ("half_life_days", "int", None),
    "leadMatches": ("lead_matches", "json", None),
    "metadataContains": ("metadata_contains", "json", None),
}


def _rule_value(c, value: str, name: str) -> str:
    key, kind, default = RULE_FIELDS[name]
    expr = c.dialect.json_field(value, key, kind)
    return f"COALESCE({expr}, {default})" if default else expr


def _rule_json(c, value: str, name: str) -> str:
    key, kind, _ = RULE_FIELDS[name]
    if kind == "json":
        return c.dialect.json_value(value, key)
    return c.dialect.scalar(_rule_value(c, value, name))


def rule(c, group: list, value: str) -> str:
    """A ScoringRule object from the stored rule JSON `value`."""
    return c.object("ScoringRule", group, lambda name, _: _rule_json(c, value, name))


def rules(c, group: list, t: str) -> str:
    r = c.alias()
    rows = f"SELECT {r}.value, {r}.i FROM {c.dialect.json_elements(f'{t}.rules', r)}"
    return c.array(rule(c, group, f"{r}.value"), rows, r, "i")


def grades(c, group: list, t: str) -> str:
    g = c.alias()
    d = c.dialect
    rows = f"SELECT {g}.value, {g}.i FROM {d.json_elements(f'{t}.grades', g)}"

    def grade_field(name: str, _: list) -> str:
        if name == "label":
            return d.scalar(d.json_field(f"{g}.value", "label"))
        return d.scalar(d.json_field(f"{g}.value", "min_score", "int"))  # minScore

    return c.array(c.object("Grade", group, grade_field), rows, g, "i")


def contribution(c, value: str, n: str) -> str:
    """models.scoring.contribution(rule, n) in SQL, without the decayed sum: a decayed rule
    recomputed from n alone adds 0, as in Python (its stored contribution is read instead)."""
    d = c.dialect
    points = _rule_value(c, value, "points")
    frequency = _rule_value(c, value, "frequency")
    min_count = _rule_value(c, value, "minCount")
    max_points = _rule_value(c, value, "maxPoints")
    cap = f"ABS({max_points})"
    each = (
        f"CASE WHEN {max_points} IS NULL THEN {points} * {n} "
        f"ELSE {d.greatest(f'-{cap}', d.least(cap, f'{points} * {n}'))} END"
    )
    return (
        f"CASE WHEN {d.json_field(value, 'lead_matches')} IS NOT NULL "
        f"THEN CASE WHEN {n} <> 0 THEN {points} ELSE 0 END "
        f"WHEN {frequency} = 'EACH' AND {_rule_value(c, value, 'halfLifeDays')} IS NOT NULL "
        f"THEN 0 "
        f"WHEN {frequency} = 'EACH' THEN {each} "
        f"WHEN {frequency} = 'AT_LEAST' THEN CASE WHEN {n} >= {min_count} THEN {points} ELSE 0 END "
        f"ELSE CASE WHEN {n} = 0 THEN {points} ELSE 0 END END"
    )


def breakdown(c, group: list, s: str) -> str:
    """Every rule of the score's model with a non-zero contribution, in rule order. Counts
    (and stored contributions) of another length than the rules are ignored, as in Python."""
    d = c.dialect
    r, b, x = c.alias(), c.alias(), c.alias()
    n_rules = d.json_length(f"{s}.rules")
    counted = (
        f"SELECT {r}.value, {r}.i, "
        f"CASE WHEN {d.json_length(f'{s}.lg_counts')} = {n_rules} "
        f"THEN {d.json_at(f'{s}.lg_counts', f'{r}.i - 1')} ELSE 0 END AS n, "
        f"CASE WHEN {d.array_length(f'{s}.lg_contributions')} = {n_rules} "
        f"THEN {d.json_at(f'{s}.lg_contributions', f'{r}.i - 1')} END AS stored "
        f"FROM {d.json_elements(f'{s}.rules', r)}"
    )
    rows = (
        f"SELECT {b}.value, {b}.i, {b}.n, "
        f"COALESCE({b}.stored, {contribution(c, f'{b}.value', f'{b}.n')}) AS points "
        f"FROM ({counted}) {b}"
    )

    def part(name: str, inner: list) -> str:
        if name == "rule":
            return rule(c, inner, f"{x}.value")
        if name == "reason":
            c.explains = True
            return d.json_object([(REASON_KEY, d.json_array([f"{x}.value", f"{x}.n"]))])
        return d.scalar(f"{x}.{'n' if name == 'count' else 'points'}")

    item = c.object("ScoreContribution", group, part)
    return c.array(item, f"SELECT * FROM ({rows}) {c.alias()} WHERE points <> 0", x, "i")


def explain(value: Any) -> Any:
    """The answer with every reason marker replaced by its text (in place)."""
    if isinstance(value, dict):
        if len(value) == 1 and REASON_KEY in value:
            stored, n = value[REASON_KEY]
            return reason(Rule.from_json(stored), n)
        for key, item in value.items():
            value[key] = explain(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = explain(item)
    return value


def lead_scores(c, group: list, t: str) -> str:
    """Lead.scores: one per active model of the workspace, by model id."""
    d = c.dialect
    s, m, x = c.alias(), c.alias(), c.alias()
    rows = (
        f"SELECT {m}.*, {s}.score AS lg_score, {s}.grade AS lg_grade, "
        f"{s}.sales_ready AS lg_sales_ready, {s}.counts AS lg_counts, "
        f"{s}.contributions AS lg_contributions "
        f"FROM lead_score {s} JOIN scoring_model {m} ON {m}.id = {s}.model_id "
        f"WHERE {s}.lead_id = {t}.id AND {s}.workspace_id = {c.ws} "
        f"AND {m}.workspace_id = {c.ws} AND {m}.active"
    )

    def score_field(name: str, inner: list) -> str:
        if name == "model":
            return c.entity("ScoringModel", inner, x)
        if name == "score":
            return d.scalar(f"{x}.lg_score")
        if name == "grade":
            return d.scalar(f"{x}.lg_grade")
        if name == "salesReady":
            return d.boolean(f"{x}.lg_sales_ready")
        return breakdown(c, inner, x)

    return c.array(c.object("LeadScore", group, score_field), rows, x, "id")


def field(c, type_name: str, name: str, group: list, t: str) -> str:
    if name in ("firstTouch", "lastTouch"):
        return touches.touch(c, type_name, name, group, t)
    if (type_name, name) == ("Lead", "scores"):
        return lead_scores(c, group, t)
    if (type_name, name) == ("ScoringModel", "rules"):
        return rules(c, group, t)
    if (type_name, name) == ("ScoringModel", "grades"):
        return grades(c, group, t)
    if (type_name, name) == ("Account", "rollup"):
        return rollups.rollup(c, group, t)
    if (type_name, name) == ("Webhook", "deliveries"):
        return webhooks.deliveries(c, group, t)
    raise outcomes.Decline(f"{type_name}.{name} is not compiled")
