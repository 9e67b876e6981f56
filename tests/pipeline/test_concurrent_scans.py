"""Two scans at once (two processes, one home): each new content is analysed once, by whichever claims it
first; the other waits for that result and reports it as its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.config import load_config
from monitor.storage.db import open_database
from monitor.storage.models import CustodyEvent

pytestmark = pytest.mark.slow
SAFETY_NET_S = 900  # two analyses of six clips on a loaded 2-core machine take well under a minute


def test_two_scans_at_once_analyse_each_new_content_once_and_report_the_same_results(
        likeness, make_performer, make_speech):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    clips = [str(make_speech(f"clip{n}", texts=(n % 4,), gap_s=0.2 + 0.05 * n)) for n in range(6)]
    command = [str(Path(sys.executable).parent / "likeness"), "scan", *clips, "--json", "--workers", "1"]

    scans = [subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [scan.communicate(timeout=SAFETY_NET_S) for scan in scans]

    for scan, (_stdout, stderr) in zip(scans, outputs, strict=True):
        assert scan.returncode == 0, stderr
        assert "Traceback" not in stderr
    first, second = (json.loads(stdout) for stdout, _stderr in outputs)
    assert [row["error"] for row in first + second] == [None] * 12
    assert [(r["sha256"], [d["id"] for d in r["detections"]]) for r in first] == \
           [(r["sha256"], [d["id"] for d in r["detections"]]) for r in second]
    with open_database(load_config().database_url)() as session:
        entries = [event.entry for event in session.scalars(select(CustodyEvent))]
    analysed = Counter(entry["media_sha256"] for entry in entries if entry["event"] == "analysed")
    assert sorted(analysed) == sorted(row["sha256"] for row in first)
    assert set(analysed.values()) == {1}
