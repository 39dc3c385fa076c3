import strawberry
from strawberry import relay


@strawberry.type(description="Records that are probably the same person or company.")
class DuplicateGroup:
    records: list[relay.Node] = strawberry.field(
        description="The records, lowest id first (at most 50 per group)."
    )
    reason: str = strawberry.field(
        description='Why they look alike: "same email", "same phone", "similar name at same '
        'account", "same website domain" or "same name".'
    )
