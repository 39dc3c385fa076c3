"""Account.rollup in SQL (`resolvers/reports/rollups.py` is the reference): per account, one
recursive walk down its hierarchy, then the contact, lead and interaction totals over those
accounts through the `account_id` indexes. The statement grows with the selection, not with
the page size or the hierarchies' depth."""

from models import LeadStatus
from models.lifecycle import OPEN
from resolvers.compiler import outcomes
from resolvers.reports.rollups import MAX_SINCE_DAYS

LEAD_TOTALS = {
    "leads": "COUNT(*)",
    "openLeads": "SUM(CASE WHEN {t}.status IN ({open}) THEN 1 ELSE 0 END)",
    "salesReadyLeads": "SUM(CASE WHEN {t}.sales_ready THEN 1 ELSE 0 END)",
    "qualifiedLeads": "SUM(CASE WHEN {t}.status = '{qualified}' THEN 1 ELSE 0 END)",
}


def _interactions(c, since_days: int, tree: str) -> str:
    """Interactions of the trees' contacts, plus those without a contact on the trees' leads.
    Both walk the interactions' (contact_id | lead_id, occurred_at) indexes per id."""
    d = c.dialect
    ct, ld, i, j = c.alias(), c.alias(), c.alias(), c.alias()
    since = d.days_ago(since_days)
    contacts = (
        f"SELECT {ct}.id FROM contact {ct} WHERE {ct}.workspace_id = {c.ws} "
        f"AND {d.member(f'{ct}.account_id', tree)}"
    )
    leads = (
        f"SELECT {ld}.id FROM lead {ld} WHERE {ld}.workspace_id = {c.ws} "
        f"AND {d.member(f'{ld}.account_id', tree)}"
    )
    return (
        f"((SELECT COUNT(*) FROM interaction {i} WHERE {d.member(f'{i}.contact_id', contacts)} "
        f"AND {i}.occurred_at >= {since}) + "
        f"(SELECT COUNT(*) FROM interaction {j} WHERE {d.member(f'{j}.lead_id', leads)} "
        f"AND {j}.contact_id IS NULL AND {j}.occurred_at >= {since}))"
    )


def rollup(c, group: list, t: str) -> str:
    """The AccountRollup of the account row `t`: its own totals, or its whole tree's."""
    d = c.dialect
    include = c.arguments("Account", group[0]).get("include_child_accounts") is not False
    tree_name, r, a, ct, ld, l2, s, m, totals = (c.alias() for _ in range(9))
    tree = f"SELECT id FROM {tree_name}"
    walk = f"SELECT {t}.id AS id"
    if include:  # UNION (not UNION ALL) ends the walk even on a corrupt parent cycle
        walk += (
            f" UNION SELECT {a}.id FROM {tree_name} {r} JOIN account {a} "
            f"ON {a}.parent_account_id = {r}.id WHERE {a}.workspace_id = {c.ws}"
        )
    open_ = ", ".join(f"'{status.value}'" for status in sorted(OPEN))
    primary = (
        f'SELECT {m}.id FROM scoring_model {m} WHERE {m}.workspace_id = {c.ws} AND {m}."primary" '
        "LIMIT 1"
    )
    lead_totals = ", ".join(
        f"{sql.format(t=ld, open=open_, qualified=LeadStatus.QUALIFIED.value)} AS lg_{name}"
        for name, sql in LEAD_TOTALS.items()
    )
    # The primary score per lead through the (lead_id, model_id) index: a join would hash
    # every lead_score row of the model, once per statement but whatever the page.
    score = (
        f"(SELECT {s}.score FROM lead_score {s} WHERE {s}.lead_id = {l2}.id "
        f"AND {s}.model_id = ({primary}))"
    )
    leads = (
        f"SELECT {lead_totals}, COUNT({ld}.lg_score) AS lg_scored, SUM({ld}.lg_score) AS lg_total, "
        f"MIN({ld}.lg_score) AS lg_low, MAX({ld}.lg_score) AS lg_high FROM "
        f"(SELECT {l2}.status, {l2}.sales_ready, {score} AS lg_score FROM lead {l2} "
        f"WHERE {l2}.workspace_id = {c.ws} AND {d.member(f'{l2}.account_id', tree)}"
        f"{d.fence()}) {ld}"
    )
    scored = f"{totals}.lg_scored > 0"

    def stats_field(name: str, _: list) -> str:
        if name == "avg":
            return d.float(
                f"CASE WHEN {scored} THEN CAST({totals}.lg_total AS DOUBLE PRECISION) "
                f"/ {totals}.lg_scored END"
            )
        column = {"sum": "lg_total", "min": "lg_low", "max": "lg_high"}[name]
        return d.scalar(f"CASE WHEN {scored} THEN {totals}.{column} END")

    def rollup_field(name: str, inner: list) -> str:
        if name == "contacts":
            return d.scalar(
                f"(SELECT COUNT(*) FROM contact {ct} WHERE {ct}.workspace_id = {c.ws} "
                f"AND {d.member(f'{ct}.account_id', tree)})"
            )
        if name in LEAD_TOTALS:
            return d.scalar(f"COALESCE({totals}.lg_{name}, 0)")
        if name == "score":
            return c.object("IntStats", inner, stats_field)
        since_days = c.arguments("AccountRollup", inner[0]).get("since_days")
        since_days = 30 if since_days is None else since_days
        if not 0 <= since_days <= MAX_SINCE_DAYS:
            raise outcomes.Decline(outcomes.USER_ERROR)  # strawberry reports it
        return d.scalar(_interactions(c, since_days, tree))  # interactions

    body = c.object("AccountRollup", group, rollup_field)
    return d.embed(
        f"(WITH RECURSIVE {tree_name}(id) AS ({walk}) SELECT {body} FROM ({leads}) {totals})"
    )
