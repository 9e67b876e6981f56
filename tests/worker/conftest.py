"""The workers' fixtures: a throwaway RabbitMQ virtual host per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import broker


@pytest.fixture
def broker_url() -> Iterator[str]:
    """The ``amqp://`` URL of a new virtual host, removed after the test; the test is skipped without RabbitMQ."""
    why = broker.missing()
    if why:
        pytest.skip(why)
    with broker.virtual_host() as url:
        yield url
