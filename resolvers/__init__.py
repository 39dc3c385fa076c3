"""The functions behind GraphQL fields, one module per aggregate."""

from resolvers import stored_filters  # noqa: F401  registers the LeadFilter compiler for re-scoring
