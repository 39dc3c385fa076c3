"""Account.rollup: totals over an account and its hierarchy below, batched per request.

The accounts of a page that ask for rollups are answered together: one recursive statement finds
every account below each of them, one statement aggregates contacts and leads per account of
those trees, and one more per distinct `interactions(sinceDays)` counts interactions; the sums
per tree are then added up here. A page costs the same number of statements whatever its size
and the hierarchies' depth, and each statement reads only the trees' rows through the indexes
on `account_id` (a recursive CTE joined directly is estimated so badly that PostgreSQL scans
whole tables).
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


async def _trees(workspace_id: int, account_ids: list[int]) -> list[list[int]]:
    """Each account with every account below it (children, their children, ...). UNION (not
    UNION ALL) ends the recursion even on a corrupt parent cycle."""
    q = Sql(is_postgres(connection()))
    ws = q.param(workspace_id)
    sql = (
        "WITH RECURSIVE lg_tree(root_id, account_id) AS (SELECT a.id, a.id FROM account a "
        f"WHERE a.workspace_id = {ws} AND {q.in_list('a.id', account_ids)} "
        "UNION SELECT r.root_id, c.id FROM lg_tree r JOIN account c "
        f"ON c.parent_account_id = r.account_id WHERE c.workspace_id = {ws}) "
        "SELECT root_id, account_id FROM lg_tree"
    )
    below: dict[int, list[int]] = {}
    for row in await fetch(sql, q):
        below.setdefault(row["root_id"], []).append(row["account_id"])
    return [below.get(i, []) for i in account_ids]


def _add(low: int | None, high: int | None, value_low, value_high) -> tuple:
    low = value_low if low is None else low if value_low is None else min(low, value_low)
    high = value_high if high is None else high if value_high is None else max(high, value_high)
    return low, high


class ReportLoaders:
    """The per-request batches behind `Account.rollup`."""

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.now = datetime.now(UTC)
        self._trees = DataLoader(partial(_trees, workspace_id), max_batch_size=5000)
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

    async def _members(self, include_children: bool, ids: list[int]) -> list[list[int]]:
        """The accounts each rollup covers (the tree statement runs once per request)."""
        if not include_children:
            return [[i] for i in ids]
        return list(await self._trees.load_many(ids))

    async def _fetch_rollups(self, include_children: bool, ids: list[int]) -> list[AccountRollup]:
        members = await self._members(include_children, ids)
        accounts = sorted({a for tree in members for a in tree})
        q = Sql(is_postgres(connection()))
        ws = q.param(self.workspace_id)
        open_ = q.in_list("ld.status", [s.value for s in OPEN])
        qualified = q.param(LeadStatus.QUALIFIED.value)
        primary = (
            f'SELECT m.id FROM scoring_model m WHERE m.workspace_id = {ws} AND m."primary" = '
            f"{q.param(True)} LIMIT 1"
        )
        sql = (
            "SELECT ct.account_id, COUNT(*) AS contacts, 0 AS leads, 0 AS open, 0 AS ready, "
            "0 AS qualified, 0 AS scored, NULL AS total, NULL AS low, NULL AS high "
            f"FROM contact ct WHERE ct.workspace_id = {ws} "
            f"AND {q.in_list('ct.account_id', accounts)} GROUP BY ct.account_id UNION ALL "
            "SELECT ld.account_id, 0, COUNT(*), "
            f"SUM(CASE WHEN {open_} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN ld.sales_ready THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN ld.status = {qualified} THEN 1 ELSE 0 END), "
            "COUNT(s.score), SUM(s.score), MIN(s.score), MAX(s.score) FROM lead ld "
            f"LEFT JOIN lead_score s ON s.lead_id = ld.id AND s.model_id = ({primary}) "
            f"WHERE ld.workspace_id = {ws} AND {q.in_list('ld.account_id', accounts)} "
            "GROUP BY ld.account_id"
        )
        per_account: dict[int, list[dict]] = {}
        for row in await fetch(sql, q):
            per_account.setdefault(row["account_id"], []).append(row)
        return [
            self._sum(account_id, tree, per_account, include_children)
            for account_id, tree in zip(ids, members, strict=True)
        ]

    @staticmethod
    def _sum(account_id: int, tree: list[int], per_account: dict, include: bool) -> AccountRollup:
        totals = dict.fromkeys(
            ("contacts", "leads", "open", "ready", "qualified", "scored", "total"), 0
        )
        low = high = None
        for member in tree:
            for row in per_account.get(member, ()):
                for name in totals:
                    totals[name] += int(row[name] or 0)
                low, high = _add(low, high, row["low"], row["high"])
        scored = totals["scored"]
        return AccountRollup(
            contacts=totals["contacts"],
            leads=totals["leads"],
            open_leads=totals["open"],
            sales_ready_leads=totals["ready"],
            qualified_leads=totals["qualified"],
            score=IntStats(
                sum=totals["total"] if scored else None,
                avg=totals["total"] / scored if scored else None,
                min=low,
                max=high,
            ),
            account_id=account_id,
            include_child_accounts=include,
        )

    async def _fetch_interactions(
        self, include_children: bool, since_days: int, ids: list[int]
    ) -> list[int]:
        """Interactions of the trees' contacts, plus those recorded without a contact on the
        trees' leads (sales-only leads): two disjoint sets, so nothing counts twice."""
        members = await self._members(include_children, ids)
        accounts = sorted({a for tree in members for a in tree})
        q = Sql(is_postgres(connection()))
        ws = q.param(self.workspace_id)
        since = q.param(self.now - timedelta(days=since_days))
        sql = (
            "SELECT ct.account_id, COUNT(*) AS n FROM contact ct JOIN interaction i "
            f"ON i.contact_id = ct.id WHERE ct.workspace_id = {ws} "
            f"AND {q.in_list('ct.account_id', accounts)} AND i.occurred_at >= {since} "
            "GROUP BY ct.account_id UNION ALL SELECT ld.account_id, COUNT(*) FROM lead ld "
            f"JOIN interaction i ON i.lead_id = ld.id WHERE ld.workspace_id = {ws} "
            f"AND {q.in_list('ld.account_id', accounts)} AND i.contact_id IS NULL "
            f"AND i.occurred_at >= {since} GROUP BY ld.account_id"
        )
        counts: dict[int, int] = {}
        for row in await fetch(sql, q):
            counts[row["account_id"]] = counts.get(row["account_id"], 0) + int(row["n"])
        return [sum(counts.get(a, 0) for a in tree) for tree in members]
