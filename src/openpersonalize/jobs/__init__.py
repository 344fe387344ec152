"""Background jobs: a table in the metadata DB, claimed and run by worker processes."""
