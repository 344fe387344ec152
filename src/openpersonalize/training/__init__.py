"""Training as one pipeline (hold-out metrics, optional HPO, the final model) that the training
job and HPO trials both run; above ``recipes`` and ``evaluation``, below ``jobs``."""
