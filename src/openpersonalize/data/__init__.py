"""Data side of Personalize: schema rules, CSV import, event ingestion, training snapshots."""
