"""What every operation passes before any resolver (or the SQL fast path) runs.

On the coerced variables, with graphql-core's own field collection (fragments, @skip/@include):
variable coercion errors become BAD_USER_INPUT with their real message; every root field's
permission classes are checked, so a document holding one FORBIDDEN field runs nothing; argument
values the database cannot take are refused; the cost (api.cost) is computed and capped; and
expensive reads wait for one of the workspace's few slots.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    is_abstract_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values
from strawberry.extensions import SchemaExtension

from api.cost import SCAN, field_cost, input_terms, search_terms
from api.errors import ApiError, BadUserInput, TooBusy
from api.input_checks import check_cursor, check_page, check_value, document_nesting
from api.settings import Settings

STRAWBERRY_FIELD = "strawberry-definition"  # graphql-core field -> strawberry field backref
SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


class QueryTooExpensive(ApiError):
    code = "QUERY_TOO_EXPENSIVE"


@dataclass
class PermissionInfo:
    """What a permission class sees before execution: the request context and the field."""

    context: Any
    field_name: str
    python_name: str


@dataclass
class Bill:
    cost: int = 0
    scan: int = 0  # the part of the cost that filters, search and counts add
    expensive: bool = False


def _is_list(type_) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList)


def bad_input(error: GraphQLError) -> GraphQLError:
    return GraphQLError(error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})


class Inspection:
    """One operation's fields, walked once with coerced arguments."""

    def __init__(self, executor: Executor, settings: Settings) -> None:
        self.executor = executor
        self.schema = executor.schema
        self.settings = settings
        self.bill = Bill()

    def root_fields(self) -> tuple[GraphQLObjectType, dict[str, list]]:
        root = self.schema.get_root_type(self.executor.operation.operation)
        assert root is not None  # validation checked the operation type
        collected = collect_fields(
            self.schema,
            self.executor.fragments,
            self.executor.variable_values,
            root,
            self.executor.operation,
        )
        return root, collected.grouped_field_set

    def arguments(self, field_def, details) -> dict[str, Any]:
        try:
            return get_argument_values(
                field_def,
                details.node,
                self.executor.variable_values,
                details.fragment_variable_values,
            )
        except GraphQLError as error:
            raise bad_input(error) from None

    def walk(
        self, parent: GraphQLObjectType, fields: dict, multiplier: int, weight: int, pending=None
    ) -> None:
        """Add up `fields` fetched `multiplier` times. `pending` is the page size of the
        connection they belong to: the first list below it (`edges`) is fetched that often."""
        for key, details_list in fields.items():
            details = details_list[0]
            name = details.node.name.value
            if name.startswith("__"):
                continue
            field_def = parent.fields[name]
            args = self.arguments(field_def, details)
            for arg_name, value in args.items():
                arg = field_def.args.get(arg_name)
                check_value(
                    value, [key, arg_name], self.settings.max_input_depth, arg.type if arg else None
                )
            here, below = multiplier, pending
            if pending is not None and _is_list(field_def.type):
                here, below = multiplier * pending, None
            spec = field_cost(parent.name, name, field_def.type)
            items, inner_weight = None, weight
            if spec is not None:
                items, inner_weight = self.bill_field(key, spec, field_def, args, here, weight)
            if details.node.selection_set is None:
                continue
            if items is not None and _is_list(field_def.type):
                self.walk_subfields(field_def.type, details_list, here * items, inner_weight, None)
            elif items is not None:
                self.walk_subfields(field_def.type, details_list, here, inner_weight, items)
            else:
                self.walk_subfields(field_def.type, details_list, here, inner_weight, below)

    def bill_field(self, key, spec, field_def, args, multiplier: int, weight: int):
        """Add one costed field; returns (items it returns or None, weight of its rows)."""
        terms = search_terms(args.get("search"))
        if "filter" in field_def.args:
            terms += input_terms(args.get("filter"), field_def.args["filter"].type)
        items = None
        if spec.paged:
            first, last = args.get("first"), args.get("last")
            check_page(first, last, self.settings.max_page_size)
            check_cursor(args.get("after"))
            check_cursor(args.get("before"))
            items = first if first is not None else last
            items = self.settings.default_page_size if items is None else items
            weight = 1 + terms
        elif spec.list_argument:
            items = len(args.get(spec.list_argument) or ())
            if items > self.settings.max_page_size:
                raise BadUserInput(
                    f"{key}: at most {self.settings.max_page_size} {spec.list_argument} at once."
                )
        if items is not None:
            self.bill.cost += multiplier * items * (1 + terms)
            self.bill.scan += multiplier * items * terms
        if spec.scans:  # a top-level count visits the workspace; a nested one is one per parent
            rows = SCAN if multiplier == 1 else multiplier
            self.bill.cost += rows * weight
            self.bill.scan += rows * weight
        if spec.aggregates:
            self.bill.cost += multiplier * SCAN * (1 + terms)
            self.bill.scan += multiplier * SCAN * (1 + terms)
        self.bill.cost += multiplier * spec.fixed
        self.bill.scan += multiplier * spec.fixed
        self.bill.expensive |= spec.expensive
        return items, weight

    def walk_subfields(self, return_type, details_list, multiplier: int, weight: int, pending):
        named = return_type
        while hasattr(named, "of_type"):
            named = named.of_type
        if is_object_type(named):
            candidates = [named]
        elif is_abstract_type(named):
            candidates = list(self.schema.get_possible_types(named))
        else:
            return
        before, most = self.bill, Bill()
        for candidate in candidates:  # an abstract field costs what its dearest type costs
            self.bill = Bill()
            collected = collect_subfields(
                self.schema,
                self.executor.fragments,
                self.executor.variable_values,
                self.executor.operation,
                candidate,
                details_list,
            )
            self.walk(candidate, collected.grouped_field_set, multiplier, weight, pending)
            if self.bill.cost >= most.cost:
                most = Bill(self.bill.cost, self.bill.scan, self.bill.expensive or most.expensive)
        self.bill = Bill(
            before.cost + most.cost, before.scan + most.scan, before.expensive or most.expensive
        )


async def forbidden_fields(context: Any, root: GraphQLObjectType, fields: dict[str, list]):
    """One FORBIDDEN error per root field whose permission classes refuse the caller."""
    errors = []
    for key, details_list in fields.items():
        node = details_list[0].node
        field_def = root.fields.get(node.name.value)
        field = (field_def.extensions or {}).get(STRAWBERRY_FIELD) if field_def else None
        for permission_class in getattr(field, "permission_classes", None) or ():
            permission = permission_class()
            info = PermissionInfo(context, node.name.value, field.python_name)
            allowed = permission.has_permission(None, info)
            if isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                errors.append(
                    GraphQLError(
                        permission.message or "Forbidden.",
                        nodes=[node],
                        path=[key],
                        extensions=dict(permission.error_extensions or {"code": "FORBIDDEN"}),
                    )
                )
                break
    return errors


def preflight(settings: Settings):
    """The SchemaExtension class; put it first so it runs before parsing caches and the fast
    path (its on_execute wraps theirs)."""
    slots: dict[tuple[int, int], asyncio.Semaphore] = {}
    max_nesting = 2 * (settings.max_query_depth + settings.max_input_depth) + 10

    class Preflight(SchemaExtension):
        def on_parse(self):
            query = self.execution_context.query
            if (
                self.execution_context.graphql_document is None
                and query
                and document_nesting(query) > max_nesting
            ):
                raise BadUserInput(f"The document is nested deeper than {max_nesting} levels.")
            yield

        def on_validate(self):
            yield
            errors = self.execution_context.pre_execution_errors
            if not settings.introspection and errors:
                for error in errors:  # no schema hints when the schema is not public
                    error.message = SUGGESTION.sub("", error.message)

        async def on_operation(self) -> AsyncIterator[None]:
            # The slot is released here: when a later extension's on_execute raises (the fast
            # path's SQL timing out), on_execute hooks are never exited, on_operation always is.
            self.slot = None
            try:
                yield
            finally:
                if self.slot is not None:
                    self.slot.release()

        async def on_execute(self) -> AsyncIterator[None]:
            ctx = self.execution_context
            principal = getattr(ctx.context, "principal", None)
            if ctx.result is None and ctx.graphql_document is not None and principal is not None:
                errors, bill = await self.inspect()
                ctx.context.bill = bill  # what the read path's templates must keep unchanged
                if errors:
                    ctx.result = ExecutionResult(data=None, errors=errors)
                elif settings.max_expensive_reads_per_workspace > 0 and (
                    bill.expensive or bill.scan >= settings.expensive_query_cost
                ):
                    # The read path must not answer repeats of this request without the slot.
                    ctx.context.needs_slot = True
                    try:
                        self.slot = await self.take_slot(principal.workspace_id)
                    except TooBusy as error:
                        ctx.result = ExecutionResult(data=None, errors=[error])
            yield

        async def inspect(self) -> tuple[list[GraphQLError], Bill]:
            ctx = self.execution_context
            executor = Executor.build(
                ctx.schema._schema,
                ctx.graphql_document,
                raw_variable_values=ctx.variables,
                operation_name=ctx.operation_name,
                hide_suggestions=not settings.introspection,
            )
            if isinstance(executor, list):
                return [bad_input(e) for e in executor], Bill()
            inspection = Inspection(executor, settings)
            try:
                root, fields = inspection.root_fields()
                forbidden = await forbidden_fields(ctx.context, root, fields)
                if forbidden:
                    return forbidden, inspection.bill
                inspection.walk(root, fields, 1, 1)
            except GraphQLError as error:
                return [error if isinstance(error, ApiError) else bad_input(error)], Bill()
            bill = inspection.bill
            if bill.cost > settings.max_query_cost:
                return [
                    QueryTooExpensive(
                        f"Query cost {bill.cost} exceeds the limit of {settings.max_query_cost} "
                        "(each paged list counts its page size times its parents, weighted by "
                        "its filter and search; totalCount counts the rows it visits)."
                    )
                ], bill
            return [], bill

        async def take_slot(self, workspace_id: int) -> asyncio.Semaphore:
            key = (id(asyncio.get_running_loop()), workspace_id)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = asyncio.Semaphore(settings.max_expensive_reads_per_workspace)
            try:
                await asyncio.wait_for(slot.acquire(), settings.statement_timeout_ms / 1000 or None)
            except TimeoutError:
                raise TooBusy(
                    "Too many expensive queries are running for this workspace; try again shortly."
                ) from None
            return slot

    return Preflight


def bill_of(
    schema, document, variables: dict | None, settings: Settings, operation_name=None
) -> Bill:
    """The bill of one operation with these variables, every value check included; raises the
    first error (a GraphQLError) the preflight would report. Permissions are not checked."""
    executor = Executor.build(
        schema._schema, document, raw_variable_values=variables, operation_name=operation_name
    )
    if isinstance(executor, list):
        raise executor[0]
    inspection = Inspection(executor, settings)
    root, fields = inspection.root_fields()
    inspection.walk(root, fields, 1, 1)
    return inspection.bill


def cost_of(schema, document, variables: dict | None, settings: Settings) -> int:
    """The cost of one operation (for tests and tools; requests get it from Preflight)."""
    return bill_of(schema, document, variables, settings).cost
