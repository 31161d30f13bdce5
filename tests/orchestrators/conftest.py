"""The landing tests' fixtures the orchestrator tests share: ``webhook``, a local HTTP server on loopback."""
from tests.landing.conftest import webhook  # noqa: F401  (a fixture, found by name)
