"""The ``likeness`` command line: the contract outside tools build on (docs/cli.md).

One module per command group, each parse → service (:mod:`monitor.services`) → print. ``--json`` prints
machine-readable JSON on stdout. Failures print one line on stderr and exit non-zero; in commands
over several files, each refused file gets its own line and the others go on (exit status 1 when
any was refused). Heavy libraries are imported inside the commands, so ``likeness --help`` answers at
once. It imports ``monitor.services`` (and, for a constant or two, what lies below).
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from enrollment.errors import LikenessError, unexpected
from monitor.cli.accounts import agency, token, user
from monitor.cli.alerts import alerts
from monitor.cli.allow_rules import performer_allow, performer_allowed, performer_disallow
from monitor.cli.audit import audit
from monitor.cli.cohort import cohort
from monitor.cli.common import App, warn, with_agency_option
from monitor.cli.detections import REVIEW_CHOICES, STATUS_CHOICES, detections
from monitor.cli.eval import eval_command
from monitor.cli.evidence import evidence
from monitor.cli.home import init
from monitor.cli.notices import notice
from monitor.cli.performers import enroll, performer
from monitor.cli.scan import scan
from monitor.cli.serve import serve
from monitor.cli.sources import crawl, run, scheduler, source
from monitor.cli.worker import queue, worker

__all__ = ["REVIEW_CHOICES", "STATUS_CHOICES", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), default=None,
              help="Folder of the database, media store and config (default $LIKENESS_HOME or ./likeness-data).")
@click.option("--agency", metavar="NAME", default=None,
              help="The agency to act in (default: the only one; with several, listings show them all).")
@click.version_option(package_name="likeness-monitor")
@click.pass_context
def cli(ctx: click.Context, home: str | None, agency: str | None) -> None:
    """Likeness Monitor: find unauthorised clones of enrolled performers' voices and faces."""
    ctx.obj = App(home, agency)


for command in (performer_allow, performer_allowed, performer_disallow):
    performer.add_command(command)
for command in (performer, enroll, scan, detections, source, crawl, alerts.commands["list"],
                evidence.commands["export"], user, token, audit, notice):
    with_agency_option(command)  # what belongs to one agency; the rest serves the whole install
for command in (init, performer, enroll, scan, detections, source, crawl, run, scheduler, alerts, evidence,
                eval_command, cohort, agency, user, token, audit, serve, worker, queue, notice):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and a non-zero exit for every failure, never a traceback."""
    _quiet_libraries()
    try:
        cli.main(args=argv, prog_name="likeness", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except LikenessError as error:
        warn(str(error))
        sys.exit(1)
    except Exception as error:  # the last line of defence: still one line, with a way to see more
        if os.environ.get("LIKENESS_DEBUG"):
            raise
        warn(f"{unexpected(error)} (set LIKENESS_DEBUG=1 for the traceback)")
        sys.exit(1)


def _quiet_libraries() -> None:
    """What libraries say is not for the user: their warnings are dropped (shown with LIKENESS_DEBUG=1). A file
    name whose bytes are not UTF-8 is printed escaped rather than failing the print (in JSON, as a valid
    ``\\udcXX`` escape)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if os.environ.get("LIKENESS_DEBUG"):
        return
    warnings.simplefilter("ignore")  # the analysis workers: monitor.analysis.fork_server


if __name__ == "__main__":
    main()
