"""Orchestrators speaking the gate: ``dagster`` (asset checks; install the ``checks[dagster]`` extra).

Each orchestrator's module imports its library itself, so nothing here is imported by ``checks``.
"""
