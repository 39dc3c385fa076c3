import strawberry
from strawberry import relay


@strawberry.input(description="A new contact. The email, if any, must be unique in the workspace.")
class CreateContactInput:
    last_name: str
    first_name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    account_id: relay.GlobalID | None = None


@strawberry.input(description="Changes to a contact: omitted fields stay, null clears a field.")
class UpdateContactInput:
    id: relay.GlobalID
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    job_title: str | None = strawberry.UNSET
    account_id: relay.GlobalID | None = strawberry.UNSET
