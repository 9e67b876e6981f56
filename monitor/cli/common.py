"""What every CLI command shares: the per-invocation app, JSON output, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property

import click


class App:
    """Per-invocation state: the home folder, its config and database, opened on first use."""

    def __init__(self, home: str | None) -> None:
        self.home_option = home

    @cached_property
    def config(self):
        from monitor.config import load_config

        return load_config(self.home_option)

    @cached_property
    def sessions(self):
        from monitor.storage.db import open_database

        self.config.home.mkdir(parents=True, exist_ok=True)
        return open_database(self.config.database_url)


def emit(data, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


def warn(message: str, prefix: str = "error") -> None:
    click.echo(f"{prefix}: {message}", err=True)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
