"""``likeness eval DIR``: how well voices and faces are found in an agency's own material (no database)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from enrollment.errors import shown_name
from monitor.cli.common import App, emit, json_option, warn

USAGE_EXIT_CODE = 2  # as click's own usage errors
TABLE_WIDTH = 150  # characters, when printing to a file or a pipe


@click.command("eval")
@click.argument("directory", metavar="DIR")
@click.option("--transform", "transforms", multiple=True, metavar="NAME",
              help="Degrade the trial files first (repeatable; `all` for every one). Audio: clean, mp3_32k, "
                   "opus_16k, telephone, noise_10db, music_10db, reverb, speed_up_5, speed_down_5, pitch_up_5, "
                   "pitch_down_5. Images: clean, jpeg_q30, half_size, quarter_size. Default: clean.")
@click.option("--impostors", "impostors_dir", default=None, metavar="DIR2",
              help="People who are none of the identities (default DIR/_impostors): a file each, or a folder each.")
@click.option("--enrol", type=click.IntRange(min=1), default=None, metavar="N",
              help="References per identity: its first N files in sorted order that enrolment accepts (default 3 "
                   "recordings, 1 photo).")
@click.option("--roster", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Enrol N people of the impostors as extra performers (the first N in sorted order); the false "
                   "alarms per file are then those of a roster of that size.")
@click.option("--plot-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where det_voice.png and det_face.png are written.")
@json_option
@click.pass_obj
def eval_command(app: App, directory: str, transforms: tuple[str, ...], impostors_dir: str | None,
                 enrol: int | None, roster: int, plot_dir: str, as_json: bool) -> None:
    """Measure detection quality on DIR: one folder of recordings and/or photos per person.

    The first files of each folder are enrolled; the others must match that person and no one else, and
    every file of DIR/_impostors must match no one. Prints EER, false alarms and recall at the configured
    thresholds, per comparison and per file, and writes DET curves.
    """
    from monitor.cli.progress import spinner
    from monitor.evaluation.run import EvalInputError
    from monitor.services.evaluation import evaluate

    try:
        with spinner("evaluating", enabled=not as_json) as advance:
            report = evaluate(app.context, Path(directory), transforms, Path(impostors_dir) if impostors_dir else None,
                              enrol, Path(plot_dir), on_file=advance, roster=roster)
    except EvalInputError as error:
        warn(str(error))
        sys.exit(USAGE_EXIT_CODE)
    # an unreadable file is part of measuring a folder, not a failure of the command (as in `crawl`)
    for row in report["skipped"]:
        warn(f"{shown_name(row['file'])}: {row['reason']}", "warning", item=True)
    emit(report, as_json, lambda: _print_report(report["results"]))


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.2f}"


def _predicted_note(row: dict) -> str:
    """"clean: per-comparison rates predict FA per file: same_voice 0.00 % (measured 0.00 %), … ; at 1000
    performers: …"."""
    per_file = row["per_file"]
    at_roster = "; ".join(f"{name} {_percent(rate)} % (measured {_percent(per_file['false_alarm_rate'][name])} %)"
                          for name, rate in per_file["predicted_false_alarm_rate"].items())
    at_many = "; ".join(f"{name} {_percent(rate)} %"
                        for name, rate in per_file["predicted_false_alarm_rate_at_1000"].items())
    return f"{row['transform']}: per-comparison rates predict FA per file: {at_roster}; at 1000 performers: {at_many}"


def _per_file_table(rows: list[dict]):  # -> rich.table.Table
    """Per transform, what a scan of each file decides: false alarms per stranger file, wrong performers per
    genuine file, and recall, at each operating point, in %."""
    from rich.table import Table

    first = rows[0]["per_file"]
    points = list(rows[0]["thresholds"])
    extra = f" ({first['extra_performers']} of them from the impostors)" if first["extra_performers"] else ""
    table = Table(title=f"per file, as a scan decides against {first['performers']} performers enrolled{extra}: "
                        "FA = strangers' files with a detection, wrong = genuine files with one against someone else",
                  title_justify="left")
    for header in ("transform", "genuine", "strangers",
                   *(f"{name} {what} %" for name in points for what in ("FA", "wrong", "recall"))):
        table.add_column(header, justify="left" if header == "transform" else "right", no_wrap=True)
    for row in rows:
        per_file = row["per_file"]
        table.add_row(row["transform"], str(per_file["genuine_files"]), str(per_file["stranger_files"]),
                      *(_percent(per_file[rate][name]) for name in points
                        for rate in ("false_alarm_rate", "wrong_performer_rate", "recall")))
    return table


def _print_report(results: list[dict]) -> None:
    """One table per modality: EER, recall at 1 % FA, and FA / recall at each operating point, in %."""
    from rich.console import Console
    from rich.table import Table

    # rich lays out a table in 80 columns when stdout is not a terminal: too narrow for nine columns
    console = Console(width=None if sys.stdout.isatty() else TABLE_WIDTH)
    if not results:
        click.echo("nothing measured: no identity has files of a kind the transforms apply to")
    for modality in dict.fromkeys(row["modality"] for row in results):
        rows = [row for row in results if row["modality"] == modality]
        points = list(rows[0]["thresholds"])
        thresholds = ", ".join(f"{name} {value:.3g}" for name, value in rows[0]["thresholds"].items())
        table = Table(title=f"{modality}: {rows[0]['identities']} identities; thresholds in "
                            f"{rows[0]['score_unit']} units: {thresholds}", title_justify="left")
        table.add_column("transform", no_wrap=True)
        for header in ("targets", "impostors", "EER %", "recall % at 1 % FA",
                       *(f"{name} {rate} %" for name in points for rate in ("FA", "recall"))):
            table.add_column(header, justify="right")
        for row in rows:
            if "error" in row:
                table.add_row(row["transform"], str(row["n_target"]), str(row["n_impostor"]), row["error"])
                continue
            at = row["at_thresholds"]
            table.add_row(row["transform"], str(row["n_target"]), str(row["n_impostor"]), _percent(row["eer"]),
                          _percent(row["recall_at_1pct_fa"]),
                          *(_percent(at[name][rate]) for name in points for rate in ("false_alarm_rate", "recall")))
        console.print(table)
        console.print(_per_file_table(rows))
        notes = []
        if modality == "face":
            notes += [f"{row['transform']}: no face found in {row['no_face_found']} trial photos"
                      for row in rows if row["no_face_found"]]
        for row in rows:
            notes += [f"{row['transform']}: skipped {item['file']}: {item['reason']}" for item in row["skipped"]]
            if row["files_skipped"] > len(row["skipped"]):
                notes.append(f"{row['transform']}: {row['files_skipped'] - len(row['skipped'])} more skipped (--json)")
        notes += [_predicted_note(row) for row in rows]
        if plot := next((row["det_plot"] for row in rows if row["det_plot"]), None):
            notes.append(f"DET curves: {plot}")
        for note in notes:
            click.echo(f"  {note}")
