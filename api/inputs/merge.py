import strawberry
from strawberry import relay


@strawberry.input(description="Records to merge into a survivor (same type; up to 10 merged).")
class MergeInput:
    survivor_id: relay.GlobalID = strawberry.field(description="The record that stays.")
    merged_ids: list[relay.GlobalID] = strawberry.field(
        description="The records merged into the survivor and then deleted."
    )
