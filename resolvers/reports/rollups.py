"""Account.rollup: totals over an account and its hierarchy below, batched per request.

Every account of a page asking for its rollup is answered by one statement (a recursive CTE
from all those accounts down their hierarchies, then one grouped count per kind of row), and
`interactions(sinceDays)` by one more per distinct `sinceDays`: a page costs the same number of
statements whatever its size and the hierarchies' depth.
"""

from datetime import UTC, datetime, timedelta
from functools import partial

from strawberry.dataloader import DataLoader

from api.errors import BadUserInput
from api.types.reports import AccountRollup, IntStats
from models import LeadStatus
from models.lifecycle import OPEN
from models.sql import Sql, connection, fetch, is_postgres

MAX_SINCE_DAYS = 36_600


def _tree(q: Sql, workspace_id: int, account_ids: list[int], include_children: bool) -> str:
    """`lg_tree(root_id, account_id)`: each root with itself and (optionally) every account
    below it. UNION (not UNION ALL) ends the recursion even on a corrupt parent cycle."""
    ws = q.param(workspace_id)
    roots = (
        f"SELECT a.id, a.id FROM account a WHERE a.workspace_id = {ws} "
        f"AND {q.in_list('a.id', account_ids)}"
    )
    below = (
        " UNION SELECT r.root_id, c.id FROM lg_tree r JOIN account c "
        f"ON c.parent_account_id = r.account_id WHERE c.workspace_id = {ws}"
    )
    body = roots + below if include_children else roots
    return f"WITH RECURSIVE lg_tree(root_id, account_id) AS ({body}) "


class ReportLoaders:
    """The per-request batches behind `Account.rollup`."""

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.now = datetime.now(UTC)
        self._rollups = {
            include: DataLoader(partial(self._fetch_rollups, include), max_batch_size=5000)
            for include in (True, False)
        }
        self._interactions: dict[tuple[bool, int], DataLoader] = {}

    def rollup(self, account_id: int, include_children: bool):
        return self._rollups[include_children].load(account_id)

    def rollup_interactions(self, account_id: int, include_children: bool, since_days: int):
        if not 0 <= since_days <= MAX_SINCE_DAYS:
            raise BadUserInput(f"sinceDays must be between 0 and {MAX_SINCE_DAYS}.")
        key = (include_children, since_days)
        loader = self._interactions.get(key)
        if loader is None:
            loader = DataLoader(
                partial(self._fetch_interactions, include_children, since_days),
                max_batch_size=5000,
            )
            self._interactions[key] = loader
        return loader.load(account_id)

    async def _fetch_rollups(self, include_children: bool, ids: list[int]) -> list[AccountRollup]:
        q = Sql(is_postgres(connection()))
        tree = _tree(q, self.workspace_id, list(ids), include_children)
        ws = q.param(self.workspace_id)
        open_ = q.in_list("ld.status", [s.value for s in OPEN])
        qualified = q.param(LeadStatus.QUALIFIED.value)
        primary = (
            f'SELECT m.id FROM scoring_model m WHERE m.workspace_id = {ws} AND m."primary" = '
            f"{q.param(True)} LIMIT 1"
        )
        sql = (
            f"{tree}SELECT r.root_id, COALESCE(c.n, 0) AS contacts, COALESCE(l.n, 0) AS leads, "
            "COALESCE(l.open, 0) AS open, COALESCE(l.ready, 0) AS ready, "
            "COALESCE(l.qualified, 0) AS qualified, COALESCE(l.scored, 0) AS scored, "
            "l.total, l.low, l.high FROM (SELECT DISTINCT root_id FROM lg_tree) r "
            "LEFT JOIN (SELECT r.root_id, COUNT(*) AS n FROM lg_tree r JOIN contact ct "
            f"ON ct.account_id = r.account_id WHERE ct.workspace_id = {ws} GROUP BY r.root_id) c "
            "ON c.root_id = r.root_id LEFT JOIN (SELECT r.root_id, COUNT(*) AS n, "
            f"SUM(CASE WHEN {open_} THEN 1 ELSE 0 END) AS open, "
            "SUM(CASE WHEN ld.sales_ready THEN 1 ELSE 0 END) AS ready, "
            f"SUM(CASE WHEN ld.status = {qualified} THEN 1 ELSE 0 END) AS qualified, "
            "COUNT(s.score) AS scored, SUM(s.score) AS total, MIN(s.score) AS low, "
            "MAX(s.score) AS high FROM lg_tree r JOIN lead ld ON ld.account_id = r.account_id "
            f"LEFT JOIN lead_score s ON s.lead_id = ld.id AND s.model_id = ({primary}) "
            f"WHERE ld.workspace_id = {ws} GROUP BY r.root_id) l ON l.root_id = r.root_id"
        )
        rows = {r["root_id"]: r for r in await fetch(sql, q)}
        out = []
        for account_id in ids:
            r = rows.get(account_id) or {}
            scored = int(r.get("scored") or 0)
            total = int(r.get("total") or 0)
            out.append(
                AccountRollup(
                    contacts=int(r.get("contacts") or 0),
                    leads=int(r.get("leads") or 0),
                    open_leads=int(r.get("open") or 0),
                    sales_ready_leads=int(r.get("ready") or 0),
                    qualified_leads=int(r.get("qualified") or 0),
                    score=IntStats(
                        sum=total if scored else None,
                        avg=total / scored if scored else None,
                        min=r.get("low") if scored else None,
                        max=r.get("high") if scored else None,
                    ),
                    account_id=account_id,
                    include_child_accounts=include_children,
                )
            )
        return out

    async def _fetch_interactions(
        self, include_children: bool, since_days: int, ids: list[int]
    ) -> list[int]:
        """Interactions of the tree's contacts, plus those recorded without a contact on the
        tree's leads (sales-only leads): two disjoint sets, so nothing counts twice."""
        q = Sql(is_postgres(connection()))
        tree = _tree(q, self.workspace_id, list(ids), include_children)
        ws = q.param(self.workspace_id)
        since = q.param(self.now - timedelta(days=since_days))
        sql = (
            f"{tree}SELECT x.root_id, COUNT(*) AS n FROM (SELECT r.root_id FROM lg_tree r "
            "JOIN contact ct ON ct.account_id = r.account_id JOIN interaction i "
            f"ON i.contact_id = ct.id WHERE i.workspace_id = {ws} AND i.occurred_at >= {since} "
            "UNION ALL SELECT r.root_id FROM lg_tree r "
            "JOIN lead ld ON ld.account_id = r.account_id "
            f"JOIN interaction i ON i.lead_id = ld.id WHERE i.workspace_id = {ws} "
            f"AND i.contact_id IS NULL AND i.occurred_at >= {since}) x GROUP BY x.root_id"
        )
        counts = {r["root_id"]: int(r["n"]) for r in await fetch(sql, q)}
        return [counts.get(i, 0) for i in ids]
