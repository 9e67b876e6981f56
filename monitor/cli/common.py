"""What every CLI command shares: the per-invocation app, JSON output, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.services.context import Context


class App:
    """Per-invocation state: the home folder, its config, and the service context (database opened on first
    use), acting as the person who runs the command."""

    def __init__(self, home: str | None, agency: str | None = None) -> None:
        self.home_option = home
        self.agency_name = agency  # --agency NAME: act in that agency only (default: the only one, or all)

    @cached_property
    def config(self) -> Config:
        from monitor.config import load_config

        return load_config(self.home_option)

    @cached_property
    def context(self) -> Context:
        from monitor.services.context import Actor, Context

        return Context(self.config, Actor.local("cli"), agency_name=self.agency_name)


def emit(data, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


def warn(message: str, prefix: str = "error", item: bool = False) -> None:
    """One line on stderr, printable, whatever the message quotes; at most 300 characters for one ``item`` of a
    batch (``error: <file or URL>: <reason>``), 1000 for a command's error."""
    from enrollment.errors import MAX_ITEM_CHARS, MAX_MESSAGE_CHARS, shown

    click.echo(shown(f"{prefix}: {message}", MAX_ITEM_CHARS if item else MAX_MESSAGE_CHARS), err=True)


def _set_agency(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_object(App).agency_name = value


def with_agency_option(command: click.Command) -> None:
    """Give ``command`` (and every command of a group) ``--agency NAME``, unless it has its own."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_agency_option(sub)
        return
    if any(param.name == "agency" for param in command.params):
        return
    command.params.append(click.Option(
        ["--agency"], metavar="NAME", expose_value=False, callback=_set_agency,
        help="The agency to act in (default: the only one; with several, listings show them all)."))


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
workers_option = click.option(  # `scan` and `crawl`
    "--workers", type=click.IntRange(min=0), default=None, metavar="N",
    help="Files analysed at once, one process each (default workers.analysis; 0: one per CPU core).")


def send_after_command(app: App) -> None:
    """At the end of `scan` and `crawl`: deliver what is due, draft the notices re-uploads are owed; problems
    are one line each on stderr."""
    from monitor.services.alerts import send_due_alerts

    errors = send_due_alerts(app.context)["errors"]
    for error in errors[:5]:
        warn(f"alert not delivered yet: {error}", "warning")
    if len(errors) > 5:
        warn(f"{len(errors) - 5} more alerts not delivered (likeness alerts list --status pending)", "warning")
    if app.context.may("notices"):  # re-uploads of clones that had a notice get one too (staydown)
        from monitor.services.staydown import draft_reupload_notices

        done = draft_reupload_notices(app.context)
        for notice in done["drafted"]:
            warn(f"notice {notice['id']} drafted for the re-upload detection {notice['detection_ids'][0]} "
                 f"(likeness notice show {notice['id']})", "note")
        for skipped in done["skipped"][:5]:
            warn(f"no notice for the re-upload detection {skipped['detection_id']}: {skipped['reason']}", "warning")
