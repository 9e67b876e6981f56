"""``likeness audit list``: the agency's audit trail, newest first."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option


@click.group()
def audit() -> None:
    """The audit trail: who did what, to which object, when and from where (hash-chained per agency)."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Entries shown.")
@json_option
@click.pass_obj
def audit_list(app: App, limit: int, as_json: bool) -> None:
    """List the latest audit entries."""
    from monitor.services.audit import read_trail

    rows = read_trail(app.context, limit)

    def human() -> None:
        for row in rows:
            click.echo(f"{row['seq']:>6}  {row['at'][:19]}  {row['actor']:<30} {row['action']:<20} {row['subject']}")
        if not rows:
            click.echo("nothing recorded yet")

    emit(rows, as_json, human)
