"""Imported interactions, items and users (Parquet) and the durable event log behind PutEvents & co."""
