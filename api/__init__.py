"""The edge of leadgraph: what a request meets before a resolver runs."""
