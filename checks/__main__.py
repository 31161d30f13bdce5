"""``python -m checks`` runs the command line."""

# Guarded, the import too: a helper process spawned by the run (checks.sidecar) imports this module again as its
# __main__, and needs none of the command line (typer and every command's module).
if __name__ == "__main__":
    from checks.cli import entrypoint

    entrypoint()
