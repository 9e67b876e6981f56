"""``likeness init``: the home folder, its config file, database and signing key."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option


@click.command()
@json_option
@click.pass_obj
def init(app: App, as_json: bool) -> None:
    """Create the home folder, its config file and the database (safe to run again)."""
    from monitor.services.home import initialise

    data = initialise(app.context)
    emit(data, as_json, lambda: click.echo(f"initialised {data['home']}"))
