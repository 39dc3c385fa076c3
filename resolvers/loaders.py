"""Per-request data loaders, scoped to the caller's workspace by construction.

`<thing>_by_id` batch single rows; the child-list loaders fetch one page per parent for all
parents of a level in one statement, so a nested read costs a fixed number of statements
whatever the page sizes.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from strawberry.dataloader import DataLoader

from api.settings import Settings
from api.types.account import Account
from api.types.contact import Contact
from api.types.interaction import Interaction
from api.types.lead import Lead, LeadEvent
from api.types.opportunity import Opportunity
from api.types.scoring import LeadScore, ScoringModel
from models import LeadStatus
from models import ScoringModel as ScoringModelRow
from models.sql import Sql, conjunction, connection, fetch, is_postgres, parse_datetime, parse_json
from resolvers import touches
from resolvers.filtering import (
    account_condition,
    contact_condition,
    interaction_condition,
    lead_condition,
)
from resolvers.pagination import (
    PageArgs,
    SortKey,
    count_children,
    empty_page,
    fetch_child_pages,
    page_size,
    sort_keys,
    to_connection,
)
from resolvers.reports.rollups import ReportLoaders

NODE_TYPES: dict[str, Callable[[dict], Any]] = {
    "account": Account.from_row,
    "contact": Contact.from_row,
    "lead": Lead.from_row,
    "interaction": Interaction.from_row,
    "opportunity": Opportunity.from_row,
}
NEWEST_FIRST = (SortKey("occurred_at", True, True), SortKey("id", True))


def _count_of(counts: DataLoader, parent_id: int):
    return lambda: counts.load(parent_id)


@dataclass(frozen=True)
class ChildList:
    """How to find the children of a set of parents: the rows, their parent and filter."""

    table: str
    parent_column: str
    condition: Callable[[Any, str, Sql], str] | None
    to_node: Callable[[dict], Any]
    default_order: tuple[SortKey, ...] = ()

    def source(self, q: Sql, workspace_id: int, parent_ids: list[int]) -> tuple[str, str, str]:
        """(FROM source, parent expression, condition) for these parents."""
        where = conjunction(
            [
                f"t.workspace_id = {q.param(workspace_id)}",
                q.in_list(f"t.{self.parent_column}", parent_ids),
            ]
        )
        return self.table, f"t.{self.parent_column}", where


class LeadInteractions(ChildList):
    """A lead's interactions: its own, plus its contact's interactions that name no lead."""

    def source(self, q: Sql, workspace_id: int, parent_ids: list[int]) -> tuple[str, str, str]:
        ws = q.param(workspace_id)
        union = (
            f"(SELECT i.*, i.lead_id AS lead_key FROM interaction i "
            f"WHERE i.workspace_id = {ws} AND {q.in_list('i.lead_id', parent_ids)} "
            f"UNION ALL SELECT i.*, l.id AS lead_key FROM interaction i "
            f"JOIN lead l ON l.contact_id = i.contact_id "
            f"WHERE i.workspace_id = {ws} AND i.lead_id IS NULL "
            f"AND {q.in_list('l.id', parent_ids)})"
        )
        return union, "t.lead_key", "1 = 1"


class ChildConnections:
    """One DataLoader per distinct argument set, each batching every parent that asks."""

    def __init__(self, spec: ChildList, workspace_id: int, settings: Settings) -> None:
        self.spec = spec
        self.workspace_id = workspace_id
        self.settings = settings
        self._pages: dict[tuple, DataLoader] = {}

    def load(
        self,
        parent_id: int,
        *,
        first: int | None,
        after: str | None,
        filter: Any = None,
        order_by: list | None = None,
    ):
        key = (first, after, repr(filter) if filter is not None else None, repr(order_by))
        pages = self._pages.get(key)
        if pages is None:
            args = PageArgs(first=first, after=after)
            size = page_size(
                args, default=self.settings.default_page_size, maximum=self.settings.max_page_size
            )
            keys = sort_keys(order_by, self.spec.default_order)
            counts = DataLoader(lambda ids: self._fetch_counts(ids, filter), max_batch_size=5000)
            pages = DataLoader(
                lambda ids: self._fetch_connections(ids, args, size, keys, filter, counts),
                max_batch_size=5000,
            )
            self._pages[key] = pages
        # The loader's future itself: no coroutine per parent.
        return pages.load(parent_id)

    def _filtered(self, ids: list[int], filter: Any) -> tuple[Sql, str, str, str]:
        q = Sql(is_postgres(connection()))
        source, parent_expr, where = self.spec.source(q, self.workspace_id, list(ids))
        if filter is not None and self.spec.condition is not None:
            where = conjunction([where, self.spec.condition(filter, "t", q)])
        return q, source, parent_expr, where

    async def _fetch_connections(self, ids, args, size, keys, filter, counts) -> list:
        q, source, parent_expr, where = self._filtered(ids, filter)
        pages = await fetch_child_pages(
            source=source,
            parent_expr=parent_expr,
            where=where,
            q=q,
            keys=keys,
            args=args,
            size=size,
        )
        return [
            to_connection(pages.get(i) or empty_page(), self.spec.to_node, _count_of(counts, i))
            for i in ids
        ]

    async def _fetch_counts(self, ids, filter) -> list[int]:
        q, source, parent_expr, where = self._filtered(ids, filter)
        counts = await count_children(source=source, parent_expr=parent_expr, where=where, q=q)
        return [counts.get(i, 0) for i in ids]


CHILD_ACCOUNTS = ChildList("account", "parent_account_id", account_condition, Account.from_row)
ACCOUNT_CONTACTS = ChildList("contact", "account_id", contact_condition, Contact.from_row)
ACCOUNT_LEADS = ChildList("lead", "account_id", lead_condition, Lead.from_row)
CONTACT_LEADS = ChildList("lead", "contact_id", lead_condition, Lead.from_row)
CONTACT_INTERACTIONS = ChildList(
    "interaction", "contact_id", interaction_condition, Interaction.from_row, NEWEST_FIRST
)
LEAD_INTERACTIONS = LeadInteractions(
    "interaction", "lead_id", interaction_condition, Interaction.from_row, NEWEST_FIRST
)


class Loaders:
    def __init__(self, workspace_id: int, settings: Settings) -> None:
        self.workspace_id = workspace_id
        self.account_by_id = self._by_id("account")
        self.contact_by_id = self._by_id("contact")
        self.lead_by_id = self._by_id("lead")
        self.interaction_by_id = self._by_id("interaction")
        self.child_accounts = ChildConnections(CHILD_ACCOUNTS, workspace_id, settings)
        self.account_contacts = ChildConnections(ACCOUNT_CONTACTS, workspace_id, settings)
        self.account_leads = ChildConnections(ACCOUNT_LEADS, workspace_id, settings)
        self.contact_leads = ChildConnections(CONTACT_LEADS, workspace_id, settings)
        self.contact_interactions = ChildConnections(CONTACT_INTERACTIONS, workspace_id, settings)
        self.lead_interactions = ChildConnections(LEAD_INTERACTIONS, workspace_id, settings)
        self.opportunity_by_id = self._by_id("opportunity")
        self.opportunity_by_lead = DataLoader(self._opportunities_by_lead)
        self.lead_scores = DataLoader(self._lead_scores)
        self.lead_history = DataLoader(self._lead_history)
        self._scoring_models: dict[int, ScoringModel] | None = None
        self.lead_touches = DataLoader(partial(touches.lead_touches, workspace_id))
        self.contact_first_touch = DataLoader(partial(touches.contact_first_touches, workspace_id))
        self.reports = ReportLoaders(workspace_id)  # Account.rollup (reporting)

    async def scoring_models(self) -> dict[int, ScoringModel]:
        """The workspace's scoring models by id, read once per request."""
        if self._scoring_models is None:
            rows = await ScoringModelRow.filter(workspace_id=self.workspace_id).order_by("id")
            self._scoring_models = {row.id: ScoringModel.from_model(row) for row in rows}
        return self._scoring_models

    async def load_scoring_models(self, node_ids: Iterable[str]) -> list[ScoringModel | None]:
        models = await self.scoring_models()
        return [models.get(int(i)) if str(i).isdigit() else None for i in node_ids]

    async def _rows_by_lead(self, table: str, lead_ids: list[int], order: str) -> dict[int, list]:
        q = Sql(is_postgres(connection()))
        sql = (
            f"SELECT t.* FROM {table} t WHERE t.workspace_id = {q.param(self.workspace_id)} "
            f"AND {q.in_list('t.lead_id', list(lead_ids))} ORDER BY {order}"
        )
        grouped: dict[int, list] = {}
        for row in await fetch(sql, q):
            grouped.setdefault(row["lead_id"], []).append(row)
        return grouped

    async def _lead_scores(self, lead_ids: list[int]) -> list[list[LeadScore]]:
        models = await self.scoring_models()
        rows = await self._rows_by_lead("lead_score", lead_ids, "t.model_id")
        return [
            [
                LeadScore(
                    model=models[r["model_id"]],
                    score=r["score"],
                    grade=r["grade"],
                    sales_ready=bool(r["sales_ready"]),
                    counts=parse_json(r["counts"]) or [],
                    contributions=parse_json(r.get("contributions")),
                )
                for r in rows.get(lead_id, [])
                if r["model_id"] in models and models[r["model_id"]].active
            ]
            for lead_id in lead_ids
        ]

    async def _lead_history(self, lead_ids: list[int]) -> list[list[LeadEvent]]:
        rows = await self._rows_by_lead("lead_event", lead_ids, "t.at, t.id")
        return [
            [
                LeadEvent(
                    at=parse_datetime(r["at"]),
                    from_status=LeadStatus(r["from_status"]) if r["from_status"] else None,
                    to_status=LeadStatus(r["to_status"]),
                    reason=r["reason"],
                    api_key_name=r["api_key_name"],
                )
                for r in rows.get(lead_id, [])
            ]
            for lead_id in lead_ids
        ]

    async def _opportunities_by_lead(self, lead_ids: list[int]) -> list[Opportunity | None]:
        rows = await self._rows_by_lead("opportunity", lead_ids, "t.id")
        return [Opportunity.from_row(rows[i][0]) if i in rows else None for i in lead_ids]

    def _by_id(self, table: str) -> DataLoader:
        to_node = NODE_TYPES[table]

        async def batch(ids: list[int]) -> list[Any]:
            q = Sql(is_postgres(connection()))
            sql = (
                f"SELECT t.* FROM {table} t WHERE t.workspace_id = {q.param(self.workspace_id)} "
                f"AND {q.in_list('t.id', list(ids))}"
            )
            found = {row["id"]: to_node(row) for row in await fetch(sql, q)}
            return [found.get(i) for i in ids]

        return DataLoader(batch, max_batch_size=5000)

    async def load_nodes(self, table: str, node_ids: Iterable[str]) -> list[Any]:
        """`node`/`nodes`: ids of another workspace, or that are not numbers, resolve to null."""
        loader = getattr(self, f"{table}_by_id")
        ids = [int(i) if str(i).isdigit() else None for i in node_ids]
        found = await loader.load_many([i for i in ids if i is not None])
        by_id = dict(zip([i for i in ids if i is not None], found, strict=True))
        return [by_id.get(i) if i is not None else None for i in ids]
