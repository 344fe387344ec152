"""Serving: loaded models, real-time user state and the runtime API's logic (no training code)."""
