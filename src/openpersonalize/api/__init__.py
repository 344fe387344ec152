"""HTTP <-> Python only: decoding, validation, encoding and errors. No business rules here."""
