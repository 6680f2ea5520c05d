"""The durable job queue: rows in the `jobs` table, claimed and run by workers."""
