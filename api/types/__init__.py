"""GraphQL output types, one module per aggregate."""
