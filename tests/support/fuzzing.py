"""How the fuzz tests run: derandomised in `make test` (the same examples every time, so a failure is a defect,
not luck); ``LIKENESS_FUZZ_EXAMPLES=5000`` runs that many new examples, by hand."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a fuzz test of ``examples`` examples in `make test`."""
    by_hand = os.environ.get("LIKENESS_FUZZ_EXAMPLES")
    return settings(max_examples=int(by_hand) if by_hand else examples, deadline=None, derandomize=not by_hand,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
