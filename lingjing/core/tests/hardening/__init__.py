"""Adversarial tests: access matrix, API fuzzing, properties, bad files, deployment checks, browser journeys,
faults. Smoke sizes in ``make test``; longer modes by environment variable (docs/testing.md)."""
