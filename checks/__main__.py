"""``python -m checks`` runs the command line."""
from checks.cli import entrypoint

# Guarded: a helper process spawned by the run (checks.sidecar) imports this module again as its __main__.
if __name__ == "__main__":
    entrypoint()
