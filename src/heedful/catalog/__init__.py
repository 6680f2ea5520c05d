"""Product catalog: upload sessions, signed upload URLs, streaming validation, ingestion."""
