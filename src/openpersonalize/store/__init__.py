"""Storage behind typing.Protocols; the backend is chosen by URL scheme."""
