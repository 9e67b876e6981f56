"""Detection quality measured on an agency's own material (``likeness eval``): no database is opened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitor.services.context import Context


def evaluate(ctx: Context, directory: Path, transforms: list[str] | tuple[str, ...] = (),
             impostors_dir: Path | None = None, enrol: int | None = None, plot_dir: Path = Path("."),
             on_file: Callable[[str], None] = lambda _label: None, roster: int = 0) -> dict:
    """Enrol the first files of each identity's folder, score the rest and the impostors, under each
    transform (``all`` for every one; none: clean) → ``{"dir", "impostors", "results", "skipped"}``; DET plots
    are written to ``plot_dir``. ``roster``: impostors enrolled as extra performers, for the false alarms per
    file at that roster size (monitor.evaluation.roster). A missing folder or an unknown transform raises
    :class:`monitor.evaluation.run.EvalInputError` (a usage error)."""
    from monitor.evaluation.run import discover, resolve_transforms
    from monitor.evaluation.run import evaluate as run_evaluation

    names = resolve_transforms(transforms)
    layout = discover(directory, impostors_dir)
    return run_evaluation(layout, names, ctx.config, enrol, plot_dir, on_file=on_file, roster=roster).as_json()
