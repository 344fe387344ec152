"""openpersonalize: a self-hosted, open-source Amazon Personalize."""

__version__ = "0.1.0"
