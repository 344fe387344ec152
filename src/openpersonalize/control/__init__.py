"""The control plane: resources and their lifecycle. No HTTP, no SQL, no numpy here."""
