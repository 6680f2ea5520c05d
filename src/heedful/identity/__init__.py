"""The identity graph: users of a company, their identifiers, resolution and merging."""
