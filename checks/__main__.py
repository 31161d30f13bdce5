"""``python -m checks`` runs the command line."""
from checks.cli import entrypoint

entrypoint()
