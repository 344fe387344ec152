"""Recipes: one module per algorithm family, an explicit registry, save/load without pickle."""
