"""Analyses on Celery workers through RabbitMQ: 2 worker processes against 1, the broker's cost per task, a crawl.

Each run starts from a fresh install: a PostgreSQL database copied from a template (``CREATE DATABASE … TEMPLATE``)
that holds only the enrolled performer, a copy of the template's home (no media, no analyses) and, with workers, a
RabbitMQ virtual host of its own; all are removed afterwards. Workers are ``likeness worker --concurrency 1 --queues
analysis`` processes, started and warmed up before the clock starts (each has analysed a throwaway clip), as workers
that run all day are; a command that analyses in its own process loads its model within its time, as it does each
time it runs. Every mode runs REPEATS times, interleaved; the fastest run of each is reported.

1. Throughput of ``likeness scan FILES --json`` on the same N_FILES mp3 (44.1 kHz, at least FILE_S s of LibriSpeech
   each, from bench/pool_throughput.py's ``build_batch``) with 1, then 2 workers (target: 2 ≥ 1.8× 1), beside the
   same command without a broker, in one process and on its own pool of 2: media seconds and files per wall second of
   the whole command, and media seconds per second of its analysis span, from the first file recorded to the last
   result stored (database timestamps), which leaves out the command's start-up and its last wait for a result.
2. The broker's own cost per analysis task (target < 20 ms): with 1 worker and every file sent at once (the queue is
   never empty), the median time the worker takes from storing one result to claiming the next content: the
   acknowledgement, RabbitMQ's delivery of the next message, Celery's hand-over to its pool process, the task's
   look-ups and its claim. A trigger in the throwaway database logs each claim's time (``clock_timestamp()``: the
   claim row itself goes with the result); results carry ``media.analysed_at``. Beside it, in the same run, the
   command in one process with one thread (OMP_NUM_THREADS=1 …, as a worker has): its median from a result to its
   next claim (reading and recording the next file) and from claim to result (the analysis and its writes), and the
   whole extra per file, (wall time with 1 worker − wall time in one process) ÷ files, fixed costs included (the
   model load counts against the local run, the last wait for a result against the worker's).
3. A crawl of bench/crawl_throughput.py's lean site (500 pages; 200 media of random bytes, each refused at probing:
   the crawl and the hand-off of 200 media, not analysis time): ``likeness crawl`` with the broker and 2 workers
   against ``likeness crawl --workers 2`` without one (target: within 10 %); and the crawling process's own extra CPU
   per media with the broker.

CPU seconds are counted per part during each timed command, as all share the machine's cores: the command's process
(its rusage), its pool (its other processes, sampled every SAMPLE_S), the workers, PostgreSQL (all its databases),
RabbitMQ, and the rest of the machine (/proc/stat).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pool_throughput import build_batch
from bench.web_api import ADMIN_URL, throwaway_database

N_FILES = 16  # a scan sends up to 64 at once (BROKER_IN_FLIGHT): all are queued from the start
FILE_S = 90.0  # each file holds at least this much audio
N_WARM = 6  # throwaway clips: one per worker per try, up to three tries for two workers
REPEATS = 2  # runs of each mode, interleaved: the fastest is reported
TARGET_SPEED_UP, TARGET_PER_TASK_MS, TARGET_CRAWL_PCT = 1.8, 20.0, 10.0
SAMPLE_S = 0.25  # how often a command's other processes' CPU time is read
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
CRAWL_CONFIG = ("[fetch]\nper_host_delay_s = 0.0\nper_host_concurrency = 8\n"
                "[crawl]\nmax_pages_per_run = 1000\nmax_files_per_run = 1000\n")  # as crawl_throughput's home
# each claim of an analysis with PostgreSQL's time of it: the claim row itself is deleted with the result
CLAIM_LOG = """
CREATE TABLE bench_claims (sha256 text, claimed_by text, at timestamptz);
CREATE FUNCTION bench_claim_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO bench_claims VALUES (NEW.sha256, NEW.claimed_by, clock_timestamp()); RETURN NEW; END $$;
CREATE TRIGGER bench_claim_logged AFTER INSERT ON analysis_claims FOR EACH ROW EXECUTE FUNCTION bench_claim_logged();
"""
LIKENESS = Path(sys.executable).with_name("likeness")


@dataclass
class Mode:
    """How a batch is scanned: ``workers`` through the broker (0: the command analyses), extra arguments and
    environment of the command; ``sequential``: each process that claims an analysis runs it, one at a time (not so
    on the command's own pool, whose threads claim for its processes), so that its tasks can be timed one by one."""

    label: str
    workers: int
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    sequential: bool = True


SCANS = (Mode("in one process, 1 torch thread", 0, ("--workers", "1"), ONE_THREAD), Mode("1 worker", 1),
         Mode("2 workers", 2), Mode("own pool of 2, no broker", 0, ("--workers", "2"), sequential=False))


@dataclass
class Install:
    """A fresh install: the environment of its commands, its database, its workers' process groups, and the
    seconds its workers took to start and warm up (not in any figure)."""

    env: dict[str, str]
    database_url: str
    worker_pgids: list[int]
    start_up_s: float


def missing() -> str | None:
    """Why this benchmark cannot run here (no PostgreSQL, no RabbitMQ), or None."""
    from tests.support import broker

    try:
        import psycopg

        psycopg.connect(ADMIN_URL, connect_timeout=5).close()
    except Exception as error:
        return f"PostgreSQL is not reachable at {ADMIN_URL}: {str(error).splitlines()[0]}"
    return broker.missing()


def likeness(args: list[str], env: dict[str, str]) -> str:
    """``likeness ARGS`` → its stdout; RuntimeError with its last messages when it fails."""
    done = subprocess.run([str(LIKENESS), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"likeness {' '.join(args[:2])} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def template_install(scratch: Path, enrol: Path) -> Iterator[tuple[Path, str]]:
    """A home and a database holding one performer enrolled from ``enrol``, and the claim log → (home, database
    name); the database is dropped afterwards. Enrolling costs about 20 s: it is done once, then copied."""
    import psycopg

    home = scratch / "template-home"
    with throwaway_database() as url:
        env = _environment(home) | {"LIKENESS_DATABASE_URL": url}
        added = json.loads(likeness(["performer", "add", "Bench Target", "--consent-by", "Bench Target", "--json"],
                                    env))
        [row] = json.loads(likeness(["enroll", "voice", str(added["id"]), str(enrol), "--json"], env))
        if not row["accepted"]:
            raise RuntimeError(f"the enrolment clip was refused: {row['reason']}")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(CLAIM_LOG)
        yield home, url.rsplit("/", 1)[1]


def _environment(home: Path) -> dict[str, str]:
    """This process's environment without a broker, for an install at ``home`` whose crawler may reach 127.0.0.1."""
    return {k: v for k, v in os.environ.items() if k != "LIKENESS_BROKER_URL"} | {
        "LIKENESS_HOME": str(home), "LIKENESS_ALLOWED_HOSTS": "127.0.0.1"}


@contextmanager
def fresh_install(template: tuple[Path, str], scratch: Path, workers: int, warm: list[Path],
                  crawl: bool = False) -> Iterator[Install]:
    """A copy of ``template`` (home and database) and, with ``workers``, a virtual host and that many warm workers;
    removed afterwards (workers stopped first)."""
    from tests.support import broker

    home = scratch / f"home-{uuid.uuid4().hex[:8]}"
    shutil.copytree(template[0], home)
    if crawl:
        (home / "config.toml").write_text(CRAWL_CONFIG)
    env = _environment(home)
    with ExitStack() as stack:
        env["LIKENESS_DATABASE_URL"] = stack.enter_context(throwaway_database(template[1]))
        started, pgids = time.perf_counter(), []
        if workers:
            env["LIKENESS_BROKER_URL"] = stack.enter_context(broker.virtual_host())
            pgids = [process.pid for process in stack.enter_context(broker.workers(workers, env, home, "analysis"))]
            warm_up(env, workers, warm)
        yield Install(env, env["LIKENESS_DATABASE_URL"], pgids, time.perf_counter() - started)


def warm_up(env: dict[str, str], workers: int, warm: list[Path]) -> None:
    """Each worker process analyses a throwaway clip before anything is timed (its model and performers in memory, its
    connections open, whether it loads them as it starts or on its first task): one clip per worker in one scan (a
    worker holds one message at a time), again with other clips where one worker took two."""
    import psycopg

    for start in range(0, len(warm) - workers + 1, workers):
        likeness(["scan", *map(str, warm[start : start + workers]), "--json"], env)
        with psycopg.connect(env["LIKENESS_DATABASE_URL"]) as connection:
            if connection.execute("SELECT count(DISTINCT claimed_by) FROM bench_claims").fetchone()[0] >= workers:
                return
    raise RuntimeError(f"not every one of {workers} workers took a warm-up clip")


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """Every process now: pid, name, and the fields of /proc/PID/stat after the name (state first)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        yield int(stat.parent.name), text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def cpu_parts(worker_pgids: list[int]) -> dict[str, float]:
    """CPU seconds so far of the workers' process groups, of PostgreSQL's and RabbitMQ's processes (with their
    children that ended), and of the whole machine (/proc/stat, busy time)."""
    tick_hz = os.sysconf("SC_CLK_TCK")
    parts = {"workers": 0.0, "PostgreSQL": 0.0, "RabbitMQ": 0.0}
    for _pid, name, fields in _processes():
        part = ("workers" if int(fields[2]) in worker_pgids else "PostgreSQL" if name == "postgres"
                else "RabbitMQ" if name == "beam.smp" else None)
        if part:  # utime, stime, cutime, cstime
            parts[part] += sum(int(value) for value in fields[11:15]) / tick_hz
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return parts | {"machine": (user + nice + system + irq + softirq) / tick_hz}


def _sample_session(session_id: int, seen_s: dict[int, float], stop: threading.Event) -> None:
    """Until ``stop``, every SAMPLE_S: the CPU seconds so far (utime + stime) of each process of ``session_id`` but
    its leader. A command's pool processes are reaped by its fork server, which outlives the command: their time
    reaches no rusage the command's exit gives."""
    tick_hz = os.sysconf("SC_CLK_TCK")
    while not stop.wait(SAMPLE_S):
        for pid, _name, fields in _processes():
            if int(fields[3]) == session_id and pid != session_id:
                seen_s[pid] = (int(fields[11]) + int(fields[12])) / tick_hz


def timed(args: list[str], env: dict[str, str], scratch: Path, worker_pgids: list[int]) -> dict[str, Any]:
    """``likeness ARGS``, timed: wall seconds, start and end (UTC), its JSON output, and CPU seconds by part: the
    command's process (its rusage), its pool's (its other processes, sampled), the workers', PostgreSQL's,
    RabbitMQ's, the rest of the machine's."""
    out, err = scratch / f"out-{uuid.uuid4().hex[:8]}.json", scratch / f"err-{uuid.uuid4().hex[:8]}.txt"
    before, seen_s, stop = cpu_parts(worker_pgids), {}, threading.Event()
    started_at, start = datetime.now(UTC), time.perf_counter()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen([str(LIKENESS), *args], env=env, stdout=stdout, stderr=stderr,
                                   start_new_session=True)  # its processes are those of its session
        sampler = threading.Thread(target=_sample_session, args=(process.pid, seen_s, stop), daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
    wall_s, ended_at = time.perf_counter() - start, datetime.now(UTC)
    stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    after = cpu_parts(worker_pgids)
    if process.returncode != 0:
        raise RuntimeError(f"likeness {args[0]} exited {process.returncode}: {err.read_text()[-2000:]}")
    cpu_s = {name: after[name] - before[name] for name in after}
    cpu_s["command"], cpu_s["pool"] = usage.ru_utime + usage.ru_stime, sum(seen_s.values())
    machine_s = cpu_s.pop("machine")
    cpu_s["other"] = max(0.0, machine_s - sum(cpu_s.values()))
    return {"wall_s": wall_s, "started_at": started_at, "ended_at": ended_at, "output": json.loads(out.read_text()),
            "cpu_s": cpu_s}


def claims_timeline(database_url: str, since: datetime) -> list[tuple[datetime, datetime, datetime, str]]:
    """Each media first seen since ``since``: (recorded, claimed, result stored, claimed by), by result."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT m.first_seen_at, c.at, m.analysed_at, c.claimed_by FROM media m CROSS JOIN LATERAL "
            "(SELECT at, claimed_by FROM bench_claims WHERE sha256 = m.sha256 AND at <= m.analysed_at "
            "ORDER BY at DESC LIMIT 1) c WHERE m.first_seen_at >= %s ORDER BY m.analysed_at", (since,)).fetchall()


def per_task(rows: list[tuple[datetime, datetime, datetime, str]]) -> dict[str, Any]:
    """Milliseconds per task of claimers that analyse one content at a time: median from a result stored to the same
    process's next claim (idle), median from claim to result stored (busy), and for one claimer the steady time per
    file, (last result − first result) ÷ (files − 1)."""
    tasks: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for _recorded, claimed, stored, claimer in rows:
        tasks[claimer].append((claimed, stored))
    idle, busy = [], []
    for own in tasks.values():
        own.sort()
        busy += [(stored - claimed).total_seconds() for claimed, stored in own]
        idle += [(claimed - stored).total_seconds() for (_, stored), (claimed, _) in itertools.pairwise(own)]
    results = sorted(row[2] for row in rows)
    steady_s = (results[-1] - results[0]).total_seconds() / (len(results) - 1) if len(tasks) == 1 else None
    return {"claimers": len(tasks), "idle_ms": 1000 * statistics.median(idle),
            "busy_ms": 1000 * statistics.median(busy), "steady_ms": None if steady_s is None else 1000 * steady_s}


def measure_scan(template: tuple[Path, str], scratch: Path, mode: Mode, batch: dict[str, Any],
                 warm: list[Path]) -> dict[str, Any]:
    """One ``likeness scan`` of the batch on a fresh install in ``mode`` → its figures (seconds, media seconds per
    wall second, files per second, the timeline, CPU seconds by part)."""
    media_s, files = sum(batch["durations_s"]), len(batch["files"])
    with fresh_install(template, scratch, mode.workers, warm) as install:
        command = timed(["scan", *map(str, batch["files"]), "--json", *mode.args], install.env | mode.env, scratch,
                        install.worker_pgids)
        rows = claims_timeline(install.database_url, command["started_at"])
    if len(rows) != files or any(row["error"] for row in command["output"]):
        raise RuntimeError(f"{mode.label}: {len(rows)} of {files} files analysed")
    span_s = (max(row[2] for row in rows) - min(row[0] for row in rows)).total_seconds()
    wall_s = command["wall_s"]
    return {"label": mode.label, "workers": mode.workers, "wall_s": wall_s, "files": files, "media_s": media_s,
            "x_realtime": media_s / wall_s, "files_per_s": files / wall_s, "span_s": span_s,
            "span_x_realtime": media_s / span_s,
            "before_first_s": (min(row[0] for row in rows) - command["started_at"]).total_seconds(),
            "after_last_s": (command["ended_at"] - max(row[2] for row in rows)).total_seconds(),
            "per_task": per_task(rows) if mode.sequential else None,
            "detections": [len(row["detections"]) for row in command["output"]], "cpu_s": command["cpu_s"],
            "workers_start_up_s": install.start_up_s}


CRAWLS = ((0, "own pool of 2, no broker"), (2, "2 workers"))  # (workers through the broker, label)


def measure_crawl(template: tuple[Path, str], scratch: Path, site_url: str, workers: int, label: str,
                  warm: list[Path]) -> dict[str, Any]:
    """One ``likeness crawl`` of the site at ``site_url`` on a fresh install: through ``workers`` (0: ``--workers 2``,
    its own pool) → seconds, pages per second, media, CPU seconds by part."""
    with fresh_install(template, scratch, workers, warm, crawl=True) as install:
        likeness(["source", "add", f"{site_url}/index.html", "--kind", "page", "--depth", "1"], install.env)
        command = timed(["crawl", "--json", *(() if workers else ("--workers", "2"))], install.env, scratch,
                        install.worker_pgids)
    report, wall_s = command["output"], command["wall_s"]
    return {"label": label, "workers": workers, "wall_s": wall_s, "pages": report["pages_fetched"],
            "pages_per_s": report["pages_fetched"] / wall_s, "media_found": report["media_found"],
            "media_analysed": report["media_analysed"], "refused": len(report["errors"]), "cpu_s": command["cpu_s"]}


def measure_interleaved(template: tuple[Path, str], scratch: Path, batch: dict[str, Any], warm: list[Path],
                        log: Callable[[str], None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every scan mode, then both crawls (of bench/crawl_throughput.py's lean site, served by a process of its own),
    REPEATS times in turn, so that a change in the machine's load touches them alike → the fastest run of each, with
    every run's wall seconds (``all_wall_s``)."""
    from bench.crawl_throughput import SITES, RemoteSite

    scans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    crawls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    site = RemoteSite(*SITES["lean"])
    try:
        for repeat in range(REPEATS):
            for mode in SCANS:
                log(f"workers, run {repeat + 1} of {REPEATS}: scan of {N_FILES} files, {mode.label}")
                scans[mode.label].append(measure_scan(template, scratch, mode, batch, warm))
            for workers, label in CRAWLS:
                log(f"workers, run {repeat + 1} of {REPEATS}: crawl of the lean site, {label}")
                crawls[label].append(measure_crawl(template, scratch, site.url, workers, label, warm))
    finally:
        site.stop()

    def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return min(runs, key=lambda run: run["wall_s"]) | {"all_wall_s": [run["wall_s"] for run in runs]}

    return [fastest(runs) for runs in scans.values()], [fastest(runs) for runs in crawls.values()]


def _clips(scratch: Path, batch: dict[str, Any]) -> tuple[Path, list[Path]]:
    """The enrolment clip (the target's clips joined by 0.3 s pauses) and N_WARM distinct throwaway clips (the
    batch's warm-up clip at other volumes: other bytes, so that none is analysed already)."""
    import numpy as np
    import soundfile

    from monitor.demo.synthetic import write_audio

    pause = np.zeros(4_800, np.float32)
    enrol = write_audio(scratch / "enrol.wav", np.concatenate([p for clip in batch["enrol"] for p in (clip, pause)]))
    wav, _rate = soundfile.read(batch["warm"], dtype="float32")
    return enrol, [write_audio(scratch / f"warm-{i}.wav", wav * (1 - 0.05 * i)) for i in range(N_WARM)]


def run(scratch: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement; ``scratch`` is an empty directory. ``{"skipped": why}`` without PostgreSQL or RabbitMQ."""
    why = missing()
    if why:
        log(f"workers: skipped, {why}")
        return {"skipped": why}
    load_start = os.getloadavg()[0]
    log(f"workers: writing {N_FILES} files of {FILE_S:.0f} s")
    batch = build_batch(scratch / "batch", n_files=N_FILES, file_s=FILE_S)
    enrol, warm = _clips(scratch, batch)
    log("workers: enrolling the performer in the template install")
    with template_install(scratch, enrol) as template:
        scans, crawls = measure_interleaved(template, scratch, batch, warm, log)
    local, one, two = scans[0], scans[1], scans[2]
    speed_up, crawl_pct = two["x_realtime"] / one["x_realtime"], 100 * (crawls[1]["wall_s"] / crawls[0]["wall_s"] - 1)
    per_task_ms = one["per_task"]["idle_ms"]
    sender_ms = 1000 * (crawls[1]["cpu_s"]["command"] - crawls[0]["cpu_s"]["command"]) / crawls[1]["media_found"]
    return {"machine": {"cpus": os.cpu_count(), "load_average_1min_start": load_start,
                        "load_average_1min_end": os.getloadavg()[0]},
            "audio": {"files": N_FILES, "total_s": sum(batch["durations_s"]), "source": batch["source"]},
            "repeats": REPEATS, "scans": scans, "crawls": crawls,
            "speed_up": speed_up, "span_speed_up": two["span_x_realtime"] / one["span_x_realtime"],
            "whole_extra_per_file_ms": 1000 * (one["wall_s"] - local["wall_s"]) / N_FILES,
            "crawl_sender_extra_cpu_per_media_ms": sender_ms,
            "same_detections": all(scan["detections"] == local["detections"] for scan in scans),
            # the workers' throughput is over the span they work in; the command's start and last wait are its own
            "targets": {"speed_up_min": TARGET_SPEED_UP,
                        "speed_up_met": two["span_x_realtime"] / one["span_x_realtime"] >= TARGET_SPEED_UP,
                        "per_task_ms_max": TARGET_PER_TASK_MS, "per_task_ms": per_task_ms,
                        "per_task_met": per_task_ms < TARGET_PER_TASK_MS, "crawl_pct_max": TARGET_CRAWL_PCT,
                        "crawl_pct": crawl_pct, "crawl_met": crawl_pct <= TARGET_CRAWL_PCT}}
