"""The pandas implementation of reconcile, lineage and diagnose as of 5db89ba: the slow reference the fast one must equal."""
