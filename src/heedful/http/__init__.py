"""The HTTP glue: operations, authentication, error rendering, rate limits, request logging."""
