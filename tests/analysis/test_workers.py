"""The analysis worker pool: the same detections as in-process, rows in order, a crash or a hang fails one item only.

Everything runs the real models in real worker processes (monitor.analysis.workers, forkserver); speech is
espeak-ng's, made at test time.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from monitor.analysis import workers
from monitor.analysis.analyse import analyse, analysis_key
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio
from monitor.pipeline.scan import Scanner
from monitor.storage.db import open_database
from monitor.storage.models import Detection, Media

pytestmark = pytest.mark.slow


@pytest.fixture
def ada(make_performer, make_speech) -> int:
    return make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])


@pytest.fixture
def submitted(monkeypatch) -> list[str]:
    """The paths handed to a worker pool, in order (the pool itself runs unchanged)."""
    paths: list[str] = []
    real = workers.AnalysisPool.submit

    def spy(pool, path):
        paths.append(str(path))
        return real(pool, path)

    monkeypatch.setattr(workers.AnalysisPool, "submit", spy)
    return paths


def _scanner(workers_wanted: int | None = None) -> Scanner:
    config = load_config()
    return Scanner(config, open_database(config.database_url), workers_wanted)


def _long_speech(path: Path, repeats: int = 12) -> Path:
    """About two minutes of the performer's voice: an analysis long enough to be caught mid-way."""
    return write_audio(path, np.tile(synthesise(TEXTS[1], PERFORMER_VOICE), repeats))


def _kill_worker_holding(scanner: Scanner, sha256: str, signum: int, killed: list[int]) -> None:
    """Wait until a worker of ``scanner``'s pool holds this content, then send it ``signum``."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        pool = scanner._pool
        for worker in list(pool._workers) if pool is not None else []:
            item = worker.item
            if item is not None and Path(item.path).name == sha256:
                os.kill(worker.process.pid, signum)
                killed.append(worker.process.pid)
                return
        time.sleep(0.002)


def _media_id(path: Path) -> int:
    with open_database(load_config().database_url)() as session:
        return session.scalar(select(Media.id).where(Media.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()))


def _count(model, *where) -> int:
    with open_database(load_config().database_url)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_worker_finds_exactly_what_analysis_in_this_process_finds(make_performer, make_speech,
                                                                     grace_hopper_path, astronaut_path):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))], face=[grace_hopper_path])
    scanner = _scanner()
    files = [make_speech("clone", texts=(1,), suffix=".mp3"), make_speech("stranger", voice=OTHER_VOICE, texts=(3,)),
             grace_hopper_path, astronaut_path]
    here = [analyse(path, scanner.config, scanner.gallery) for path in files]
    with workers.AnalysisPool(scanner.config, scanner.gallery, 2) as pool:
        futures = [pool.submit(path) for path in files]
        there = [future.result(timeout=300) for future in futures]
    assert pool.stats.started == 2 and pool.stats.crashed == 0
    assert [m.modality for m in here[0].matches] == ["voice"] and [m.modality for m in here[2].matches] == ["face"]
    for mine, theirs in zip(here, there, strict=True):
        assert (theirs.media_type, theirs.duration_s, theirs.speech_s, theirs.faces_seen) == \
               (mine.media_type, mine.duration_s, mine.speech_s, mine.faces_seen)
        # one torch thread sums in another order than two: the same numbers to float32 rounding
        assert [(m.performer_id, m.modality) for m in theirs.matches] == [(m.performer_id, m.modality)
                                                                           for m in mine.matches]
        for a, b in zip(mine.matches, theirs.matches, strict=True):
            assert b.score == pytest.approx(a.score, abs=1e-3) and b.similarity == pytest.approx(a.similarity, abs=1e-3)
            assert [(s["start_s"], s["end_s"]) for s in b.segments] == [(s["start_s"], s["end_s"]) for s in a.segments]
        assert [c["performer_id"] for c in theirs.closest] == [c["performer_id"] for c in mine.closest]
        assert [c["score"] for c in theirs.closest] == pytest.approx([c["score"] for c in mine.closest], abs=1e-3)


def test_a_batch_is_analysed_by_the_workers_and_its_rows_come_back_in_order(likeness, ada, make_speech, tmp_path,
                                                                            submitted):
    long_clone = _long_speech(tmp_path / "long-clone.wav")  # finishes last, listed first
    clone = make_speech("clone", texts=(1,), suffix=".mp3")
    copy = tmp_path / "copy-of-clone.mp3"
    copy.write_bytes(clone.read_bytes())
    stranger = make_speech("stranger", voice=OTHER_VOICE, texts=(3,), suffix=".m4a")
    not_audio = tmp_path / "page.mp3"
    not_audio.write_text("a few words, not audio")
    targets = [long_clone, clone, not_audio, tmp_path / "missing.wav", stranger, copy]

    result = likeness("scan", *targets, "--workers", "2", "--json")
    assert result.exit_code == 1 and result.stdout, result.stderr  # two items refused; the others scanned
    rows = result.json
    assert [row["source"] for row in rows] == [str(path) for path in targets]
    assert [bool(row["detections"]) for i, row in enumerate(rows) if i != 4] == [True, True, False, False, True]
    assert rows[0]["duration_s"] > 100 and rows[0]["detections"][0]["performer_id"] == ada
    assert rows[1]["detections"][0]["id"] == rows[5]["detections"][0]["id"]  # the same bytes: analysed once
    assert rows[2]["error"] == "a text file, not audio, video or an image"
    assert rows[3]["error"] == "no such file"
    assert rows[4]["error"] is None and rows[4]["closest"][0]["performer_id"] == ada
    assert sorted(result.stderr.splitlines()) == sorted([f"error: {not_audio}: {rows[2]['error']}",
                                                        f"error: {tmp_path / 'missing.wav'}: no such file"])
    assert len(submitted) == 4  # long clone, clone, the page, the stranger: the copy reused the clone's result
    assert _count(Media) == 4 and _count(Detection, Detection.media_id != _media_id(stranger)) == 2


def test_one_file_or_one_worker_is_analysed_in_this_process(likeness, ada, make_speech, submitted):
    one = make_speech("clone", texts=(1,))
    assert likeness("scan", one, "--workers", "2", "--json").json[0]["detections"]
    other = make_speech("stranger", voice=OTHER_VOICE, texts=(3,))
    assert likeness("scan", one, other, "--workers", "1", "--json").exit_code == 0
    assert submitted == []


def test_a_worker_killed_mid_item_fails_that_item_only_and_the_pool_goes_on(ada, make_speech, tmp_path):
    scanner = _scanner()
    long_clone = _long_speech(tmp_path / "long.wav")
    with workers.AnalysisPool(scanner.config, scanner.gallery, 2) as pool:
        victim = pool.submit(long_clone)
        deadline = time.monotonic() + 120
        while not any(w.item is not None and w.item.future is victim for w in list(pool._workers)):
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(pool.stats.pids[0], signal.SIGKILL)
        others = [pool.submit(make_speech("clone", texts=(1,))), pool.submit(long_clone)]
        with pytest.raises(workers.WorkerCrashed, match=r"^the analysis worker died while analysing it "
                                                        r"\(killed by SIGKILL\)$"):
            victim.result(timeout=120)
        assert all(future.result(timeout=300).matches for future in others)
    assert pool.stats.crashed == 1 and pool.stats.started >= 2


def test_a_worker_crash_in_a_batch_is_that_file_s_error_and_the_batch_goes_on(ada, make_speech, tmp_path):
    """A segfault in a native decoder looks like this from outside: the worker dies by SIGSEGV."""
    crasher = _long_speech(tmp_path / "crashes-the-decoder.wav", repeats=10)
    targets = [make_speech("clone", texts=(1,)), crasher, make_speech("stranger", voice=OTHER_VOICE, texts=(3,)),
               make_speech("clone-again", texts=(2,), suffix=".mp3")]
    scanner = _scanner(2)
    sha256 = hashlib.sha256(crasher.read_bytes()).hexdigest()
    killed: list[int] = []
    killer = threading.Thread(target=_kill_worker_holding, args=(scanner, sha256, signal.SIGSEGV, killed))
    killer.start()
    done: list[str] = []
    rows = scanner.scan_all([str(path) for path in targets], on_done=lambda row: done.append(row.source))
    killer.join()
    assert killed, "the crashing file was never analysed by a worker"
    assert [row.source for row in rows] == [str(path) for path in targets] and sorted(done) == sorted(
        row.source for row in rows)
    assert rows[1].error == "the analysis worker died while analysing it (killed by SIGSEGV)"
    assert rows[0].detections and rows[3].detections and rows[2].error is None
    # stored as that content's failure: a file that kills the decoder is not tried again by every crawl
    with scanner.sessions() as session:
        assert session.scalar(select(Media.error).where(Media.sha256 == sha256)) == rows[1].error
    assert scanner.scan(str(crasher)).error == rows[1].error


def _stop_worker_holding(scanner: Scanner, sha256: str, stopped: list[int]) -> None:
    """Wait until a worker of ``scanner``'s pool holds this content, stop it (SIGSTOP) and wake the pool's
    dispatcher, which then starts the clock of its item's time limit (:func:`_time_limit_for_stopped_workers`)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pool = scanner._pool
        for worker in list(pool._workers) if pool is not None else []:
            item = worker.item
            if item is not None and Path(item.path).name == sha256:
                os.kill(worker.process.pid, signal.SIGSTOP)
                stopped.append(worker.process.pid)
                os.write(pool._wake_w, b".")
                return
        time.sleep(0.002)


def _time_limit_for_stopped_workers(monkeypatch, stopped: list[int]) -> None:
    """The pool's ``item_timeout_s`` applies to the workers the test has stopped, from the moment they hang, and to
    no other: an ordinary item, which a loaded machine can take longer than the short limit over, is never timed
    out. Deadlines are changed in the pool's own dispatcher thread, right after it hands out items."""
    assign = workers.AnalysisPool._assign

    def assign_then_set_the_deadlines(pool) -> None:
        assign(pool)
        for worker in pool._workers:
            if worker.item is None:
                continue
            if worker.process.pid not in stopped:
                worker.deadline = float("inf")
            elif worker.deadline == float("inf"):  # stopped since the dispatcher's last turn: its clock starts
                worker.deadline = time.monotonic() + pool.item_timeout_s

    monkeypatch.setattr(workers.AnalysisPool, "_assign", assign_then_set_the_deadlines)


def test_an_item_that_hangs_past_the_time_limit_is_that_file_s_error_and_the_pool_goes_on(ada, make_speech, tmp_path,
                                                                                          monkeypatch):
    """A decoder in an endless loop looks like this from outside: the worker holds its item and never answers.
    Here it is stopped by SIGSTOP, which also leaves the polite SIGTERM pending: it has to be killed. The limit
    counts from the moment it hangs; the other items take as long as they take."""
    hanger = _long_speech(tmp_path / "hangs-the-decoder.wav", repeats=10)
    targets = [make_speech("clone", texts=(1,)), hanger, make_speech("stranger", voice=OTHER_VOICE, texts=(3,)),
               make_speech("clone-again", texts=(2,), suffix=".mp3")]
    config = load_config().replace("workers", item_timeout_s=2.0)
    scanner = Scanner(config, open_database(config.database_url), 2)
    sha256 = hashlib.sha256(hanger.read_bytes()).hexdigest()
    stopped: list[int] = []
    _time_limit_for_stopped_workers(monkeypatch, stopped)
    stopper = threading.Thread(target=_stop_worker_holding, args=(scanner, sha256, stopped))
    with scanner.workers_running() as pool:
        stopper.start()
        rows = scanner.scan_all([str(path) for path in targets])
        stopper.join()
        assert stopped, "the hanging file was never analysed by a worker"
        assert rows[1].error == "analysis timed out after 2 s"
        assert rows[0].detections and rows[3].detections and rows[2].error is None
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
            os.kill(stopped[0], 0)
        # the pool goes on: a new worker takes the place of the one killed
        again = [pool.submit(targets[0]), pool.submit(targets[3])]
        assert all(future.result(timeout=120).matches for future in again)
    assert (pool.stats.timed_out, pool.stats.crashed, pool.stats.started) == (1, 0, 3)
    # stored as that content's failure, as after a crash: it is not tried (and waited for) again by every crawl
    with scanner.sessions() as session:
        assert session.scalar(select(Media.error).where(Media.sha256 == sha256)) == rows[1].error
    assert scanner.scan(str(hanger)).error == rows[1].error


def test_a_crawl_keeps_the_workers_busy_and_analyses_each_content_once(likeness, home, make_speech, ada, tmp_path,
                                                                         submitted):
    folder = tmp_path / "drop"
    folder.mkdir()
    clone = make_speech("clone", texts=(1,), suffix=".mp3")
    (folder / "clone.mp3").write_bytes(clone.read_bytes())
    (folder / "same-clone.mp3").write_bytes(clone.read_bytes())
    (folder / "another-clone.mp3").write_bytes(make_speech("another", texts=(2,), suffix=".mp3").read_bytes())
    (folder / "long.wav").write_bytes(_long_speech(tmp_path / "long.wav", repeats=6).read_bytes())
    (folder / "notes.txt").write_text("not media")
    assert likeness("source", "add", folder, "--json").exit_code == 0

    result = likeness("crawl", "--workers", "2", "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json
    assert report["media_new"] == 5 and report["media_analysed"] == 4  # the second copy reuses the first's result
    assert sorted(Path(d["media"]["source"]).name for d in report["detections"]) == [
        "another-clone.mp3", "clone.mp3", "long.wav", "same-clone.mp3"]
    assert [error["reason"] for error in report["errors"]] == ["a text file, not audio, video or an image"]
    assert len(submitted) == 4
    assert _count(Media) == 4 and _count(Detection) == 3 and _count(Media, Media.analysis_key.is_(None)) == 0


def test_workers_default_to_the_usable_cores_and_do_not_change_the_analysis_key(home):
    config = load_config()
    assert config.workers.analysis == 0
    assert workers.worker_count(0) == len(os.sched_getaffinity(0)) and workers.worker_count(3) == 3
    scanner = _scanner()
    assert scanner.workers == len(os.sched_getaffinity(0))
    assert analysis_key(config.replace("workers", analysis=7), scanner.gallery) == scanner.key
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[workers]\nanalysis = 3\n")
    assert _scanner().workers == 3 and _scanner(1).workers == 1
