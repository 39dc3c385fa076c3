"""GraphQL input types: filters, ordering and mutation inputs per aggregate."""
