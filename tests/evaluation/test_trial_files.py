"""A long list of trial files is worked out on a process per core, and gives what working them out here gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.config import load_config
from monitor.evaluation import trial_files as module
from monitor.evaluation.trial_files import trial_file, trial_files

pytestmark = pytest.mark.slow


def test_files_shared_out_to_worker_processes_give_what_this_process_gives(make_speech, tmp_path: Path,
                                                                           monkeypatch) -> None:
    config = load_config(tmp_path / "home")
    speech = [make_speech(f"clip {n}", texts=(n % 3,)) for n in range(3)]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not a recording")
    files = [(speech[0], False), (broken, False), (speech[1], True), (speech[2], False)]
    transforms = ["clean", "mp3_32k", "pitch_up_5"]
    here = [trial_file(path, impostor, transforms, seed, config) for seed, (path, impostor) in enumerate(files)]
    monkeypatch.setattr(module, "FILES_PER_PROCESS", 2)  # 4 files: 2 processes
    monkeypatch.setattr("monitor.analysis.workers.usable_cores", lambda: 2)
    shared = list(trial_files(files, transforms, config))
    assert [answer.error is None for answer in shared] == [True, False, True, True]
    for mine, theirs in zip(here, shared, strict=True):
        assert (mine.error is None) == (theirs.error is None) and mine.no_speech == theirs.no_speech
        for name, windows in mine.windows.items():  # one compute thread there, two here: the same to rounding
            assert np.allclose(windows, theirs.windows[name], atol=1e-4), name
        assert (mine.clean is None) == (theirs.clean is None)
    assert shared[2].clean is not None and shared[0].clean is None
