"""The functions behind GraphQL fields, one module per aggregate."""
