"""One module per resource family; each exports OPERATIONS: {operation name: handler}."""
