"""A service context per test: this test's home (SQLite, or PostgreSQL under ``make test-pg``) and an actor."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.services.context import Actor, Context


@pytest.fixture
def ctx(home: Path) -> Context:
    """Acting as ``ada@agency.example`` from the web, say: not the person running the tests."""
    return Context(load_config(home), Actor("ada@agency.example", "web"))
