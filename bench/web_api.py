"""The REST API under load: `likeness serve` on PostgreSQL with 50 agencies, 1,000 performers and 100,000 detections.

The data: a throwaway database (``likeness_bench_<random>``, dropped at the end), migrated by ``open_database``,
filled by SQLAlchemy Core executemany: 50 agencies of 20 performers, 1,000 media per agency (each with a sighting by
it) and 2,000 detections per agency, all visible to it, ids in time order across agencies. An owner and an admin
token of one agency come from the service layer; the real server runs as a subprocess (``likeness serve --port 0``)
and wrk (20 connections, 2 threads) drives each URL of :data:`URLS`, warm-up first; a Lua script reports p50, p95,
p99 (wrk gives no p95), requests/s and errors (non-2xx, socket errors). The baseline, ``/api/v1/openapi.json``, does
no database work: the floor of the HTTP stack, measured the same way in the same run.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

ADMIN_URL = os.environ.get("LIKENESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
N_AGENCIES, PERFORMERS_PER_AGENCY, MEDIA_PER_AGENCY, DETECTIONS_PER_AGENCY = 50, 20, 1_000, 2_000
CURVE_POINTS = 240  # a voice detection's score curve in details (the most a detection keeps: a file of ≥ 3 min)
BATCH = 5_000  # rows per executemany
CONNECTIONS, THREADS, WARMUP_S, MEASURE_S = 20, 2, 3, 15
N_IDS = 1_000  # the random visible ids the per-detection URL is asked for
WORKERS = (1, 2)  # `likeness serve --workers N`: one process, then one per CPU of this machine
AGENCY_NAME, OWNER = "Agency 01", "owner@agency-01.example"


class Url(NamedTuple):
    """One measured URL: ``path`` may hold ``{id}`` (a random detection the token's agency sees, per request);
    ``target_ms`` the p95 it must stay under (None: the baseline)."""

    name: str
    path: str
    target_ms: float | None
    auth: str = "token"  # token: the API's bearer token; cookie: a signed-in browser's (dashboard pages)


# What is measured, one line each
URLS = (
    Url("baseline: OpenAPI document", "/api/v1/openapi.json", None),
    Url("detections, newest first", "/api/v1/detections?limit=50", 100),
    Url("detections by score, new", "/api/v1/detections?order=score&status=new&limit=50", 100),
    Url("one detection", "/api/v1/detections/{id}", 150),
    Url("review queue page", "/queue", 100, "cookie"),
    Url("detection page", "/detections/{id}", 150, "cookie"),
)
PASSWORD = "bench password, not secret"

LUA_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("seed", #threads) end
function init(args) non2xx = 0; math.randomseed(seed * 7919 + os.time()) end
function response(status, headers, body) if status < 200 or status > 299 then non2xx = non2xx + 1 end end
function done(summary, latency, requests)
  local non2xx_total = 0
  for _, thread in ipairs(threads) do non2xx_total = non2xx_total + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format('\\n{"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, "p50_us": %.0f, '
    .. '"p95_us": %.0f, "p99_us": %.0f, "max_us": %.0f, "non2xx": %.0f, "socket_errors": %.0f}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, non2xx_total, e.connect + e.read + e.write + e.timeout))
end
"""


def missing() -> str | None:
    """Why this benchmark cannot run here (no wrk, no PostgreSQL), or None."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (make bench installs it: apt-get install wrk)"
    try:
        import psycopg

        psycopg.connect(ADMIN_URL, connect_timeout=5).close()
    except Exception as error:
        return f"PostgreSQL is not reachable at {ADMIN_URL}: {str(error).splitlines()[0]}"
    return None


@contextmanager
def throwaway_database(template: str | None = None) -> Iterator[str]:
    """The URL of a new database, empty or a copy of ``template`` (which nothing may be connected to), dropped
    afterwards (even on failure)."""
    import psycopg

    name = f"likeness_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        try:
            yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _details(rng: random.Random, modality: str, curves: list[list[list[float]]]) -> dict[str, Any]:
    """A detection's details as the matchers write them (a voice's score curve, kept apart by the scan, and a
    face's box)."""
    closer = rng.randint(100, 130)
    population = {"compared": 130, "closer_than": closer, "percentile": round(100 * closer / 130, 1)}
    if modality == "face":
        return {"time_s": round(rng.uniform(0, 600), 1), "box": [40, 200, 160, 80], "population": population,
                "normalised_score": round(rng.uniform(2, 6), 3)}
    return {"curve": rng.choice(curves), "tier": rng.choice(("same_voice", "soundalike")),
            "normalised_score": round(rng.uniform(2, 6), 3), "condition": "clean", "population": population,
            "turn": {"windows": rng.randint(5, 200), "turns": rng.randint(1, 20)}}


def _rows(rng: random.Random, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Every row to insert, by table name, with explicit ids; detections' ids follow their created_at."""
    year = timedelta(days=365)
    agencies = [{"id": a, "name": f"Agency {a:02d}", "created_at": now - year} for a in range(1, N_AGENCIES + 1)]
    performers = [{"id": (a - 1) * PERFORMERS_PER_AGENCY + p, "name": f"Performer {a}-{p}", "agency_id": a,
                   "created_at": now - year} for a in range(1, N_AGENCIES + 1) for p in range(1, 21)]
    media, sightings, found = [], [], []
    for a in range(1, N_AGENCIES + 1):
        for k in range(MEDIA_PER_AGENCY):
            media_id, kind = len(media) + 1, rng.choice(("audio", "audio", "video", "image"))
            seen = now - year * rng.random()
            media.append({"id": media_id, "sha256": rng.randbytes(32).hex(), "media_type": kind,
                          "duration_s": None if kind == "image" else rng.uniform(10, 900),
                          "size_bytes": rng.randint(10**5, 10**8), "first_seen_at": seen, "analysis_key": "bench",
                          "analysed_at": seen, "closest": None, "error": None, "content_credentials": None})
            sightings.append({"agency_id": a, "media_id": media_id, "source": f"https://clips.example/{a}/{k}",
                              "page_url": f"https://clips.example/{a}/page/{k}", "page_title": f"Clip {k}",
                              "first_seen_at": seen, "last_seen_at": seen})
        for j in range(DETECTIONS_PER_AGENCY):  # two performers of the agency per media
            media_row = media[(a - 1) * MEDIA_PER_AGENCY + j // 2]
            kind = media_row["media_type"]
            modality = "voice" if kind == "audio" else "face" if kind == "image" else rng.choice(("voice", "face"))
            found.append((a, (a - 1) * PERFORMERS_PER_AGENCY + j % 20 + 1, media_row["id"], modality))
    rng.shuffle(found)
    curves = [[[round(i * 2.5, 2), round(rng.random(), 4)] for i in range(CURVE_POINTS)] for _ in range(16)]
    statuses = rng.choices(("new", "confirmed", "dismissed", "authorized"), (80, 10, 7, 3), k=len(found))
    detections = []
    for i, (agency_id, performer_id, media_id, modality) in enumerate(found):
        created = now - year + year * (i / len(found))
        details = _details(rng, modality, curves)
        detections.append({"id": i + 1, "agency_id": agency_id, "performer_id": performer_id, "media_id": media_id,
                           "modality": modality, "score": rng.random(), "similarity": rng.uniform(0.5, 0.95),
                           "threshold": 0.5, "segments": [], "details": details, "curve": details.pop("curve", None),
                           "model_version": "bench", "status": statuses[i], "sighted": True, "created_at": created,
                           "updated_at": created})
    return {"agencies": agencies, "performers": performers, "media": media, "sightings": sightings,
            "detections": detections}


def seed(url: str, rng: random.Random) -> dict[str, Any]:
    """Migrate and fill the database at ``url`` → row counts and seconds taken (``seed_s``)."""
    from sqlalchemy import insert, text

    from monitor.storage.db import open_database
    from monitor.storage.models import Base

    started = time.perf_counter()
    engine = open_database(url).kw["bind"]
    rows = _rows(rng, datetime.now(UTC))
    with engine.begin() as connection:
        for name, table_rows in rows.items():
            table = Base.metadata.tables[name]
            for at in range(0, len(table_rows), BATCH):
                connection.execute(insert(table), table_rows[at:at + BATCH])
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                    f"(SELECT max(id) FROM {name}))"))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return {name: len(table_rows) for name, table_rows in rows.items()} | {"seed_s": time.perf_counter() - started}


def account(home: Path, url: str, rng: random.Random) -> tuple[str, list[int]]:
    """An owner of :data:`AGENCY_NAME` and an admin token of theirs, made through the service layer → the token and
    :data:`N_IDS` random detection ids that agency sees."""
    from sqlalchemy import select

    from monitor.config import load_config
    from monitor.services.accounts import add_user, create_token
    from monitor.services.context import Actor, Context
    from monitor.storage.models import Detection
    from monitor.storage.tenancy import visible_detections

    before = os.environ.get("LIKENESS_DATABASE_URL")
    os.environ["LIKENESS_DATABASE_URL"] = url
    try:
        ctx = Context(load_config(home), Actor.local(), agency_name=AGENCY_NAME)
        add_user(ctx, OWNER, "owner", password=PASSWORD)
        token = create_token(ctx, OWNER, "bench", "admin")["token"]
        with ctx.sessions() as session:
            visible = list(session.scalars(select(Detection.id).where(visible_detections(ctx.scoped_agency_id()))))
        ctx.sessions.kw["bind"].dispose()
    finally:
        if before is None:
            os.environ.pop("LIKENESS_DATABASE_URL", None)
        else:
            os.environ["LIKENESS_DATABASE_URL"] = before
    return token, rng.sample(visible, N_IDS)


@contextmanager
def server(home: Path, url: str, stderr: Path, workers: int) -> Iterator[tuple[str, int]]:
    """``likeness serve --port 0 --workers N`` in a subprocess → its base URL and pid; stopped afterwards (SIGINT,
    then KILL)."""
    likeness = Path(sys.executable).with_name("likeness")
    env = os.environ | {"LIKENESS_HOME": str(home), "LIKENESS_DATABASE_URL": url}
    with open(stderr, "w") as errors:
        process = subprocess.Popen([str(likeness), "serve", "--port", "0", "--workers", str(workers)], env=env,
                                   stdout=subprocess.PIPE,
                                   stderr=errors, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 120)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("serving on "):
            raise RuntimeError(f"likeness serve did not start (exit status {process.poll()}): {line!r} "
                               f"{stderr.read_text()[-2000:]}")
        yield line.removeprefix("serving on ").strip(), process.pid
    finally:
        process.send_signal(signal.SIGINT)  # the workers' supervisor stops them all on SIGINT
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def lua_script(path: str, ids: list[int]) -> str:
    """wrk's script for ``path``: the report in ``done``, and a ``request`` picking a random id where it has one."""
    if "{id}" not in path:
        return LUA_REPORT
    before, after = path.split("{id}", 1)
    return LUA_REPORT + (f"local ids = {{{', '.join(map(str, ids))}}}\n"
                         f"function request() return wrk.format(nil, {json.dumps(before)} .. "
                         f"ids[math.random(#ids)] .. {json.dumps(after)}) end\n")


def wrk(url: str, header: str, script: Path, seconds: float) -> dict[str, Any]:
    """One wrk run of ``seconds`` against ``url`` with ``header`` (its credentials) → the Lua report
    (microseconds, counts)."""
    command = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s", "--timeout", "10s",
               "-s", str(script), "-H", header, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of process ``pid`` and its children (the worker processes), from
    /proc/PID/stat."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def sign_in(base: str) -> str:
    """The dashboard's session cookie of :data:`OWNER` (``name=value``), signed in through the login form."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    connection.request("POST", "/login", urlencode({"email": OWNER, "password": PASSWORD}),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    cookie = answer.getheader("set-cookie", "").split(";", 1)[0]
    connection.close()
    if answer.status != 303 or not cookie:
        raise RuntimeError(f"signing in to the dashboard answered {answer.status}")
    return cookie


def measure(base: str, pid: int, credentials: dict[str, str], target: Url, ids: list[int],
            scratch: Path) -> dict[str, Any]:
    """Check ``target`` answers 200 once, warm it up, then measure it → milliseconds, requests/s, errors.
    ``credentials``: the header for each kind of ``auth`` ({"token": "Authorization: …", "cookie": …})."""
    header = credentials[target.auth]
    name, value = header.split(": ", 1)
    first = base + target.path.replace("{id}", str(ids[0]))
    with urllib.request.urlopen(urllib.request.Request(first, headers={name: value})) as answer:
        size = len(answer.read())
    script = scratch / "wrk.lua"
    script.write_text(lua_script(target.path, ids))
    wrk(base + target.path.split("{id}")[0], header, script, WARMUP_S)
    cpu_before = cpu_s(pid)
    got = wrk(base + target.path.split("{id}")[0], header, script, MEASURE_S)
    server_cpu = cpu_s(pid) - cpu_before
    p95_ms = got["p95_us"] / 1000
    return {"name": target.name, "path": target.path, "target_ms": target.target_ms, "response_bytes": size,
            "p50_ms": got["p50_us"] / 1000, "p95_ms": p95_ms, "p99_ms": got["p99_us"] / 1000,
            "max_ms": got["max_us"] / 1000, "requests": got["requests"],
            "requests_per_s": got["requests"] / (got["duration_us"] / 1e6), "non2xx": got["non2xx"],
            "socket_errors": got["socket_errors"], "server_cpu_ms_per_request": 1000 * server_cpu / got["requests"],
            "met": None if target.target_ms is None else (p95_ms < target.target_ms and got["non2xx"] == 0
                                                           and got["socket_errors"] == 0)}


def run(scratch: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Seed, serve, measure every URL of :data:`URLS`; ``{"skipped": why}`` without wrk or PostgreSQL."""
    why = missing()
    if why:
        progress(f"web API: skipped, {why}")
        return {"skipped": why}
    rng, home, load_average = random.Random(0), scratch / "home", os.getloadavg()[0]
    home.mkdir(parents=True)
    with throwaway_database() as url:
        progress("web API: seeding PostgreSQL (50 agencies, 1,000 performers, 100,000 detections)")
        dataset = seed(url, rng)
        token, ids = account(home, url, rng)
        urls = []
        for workers in WORKERS:
            with server(home, url, scratch / "serve.err", workers) as (base, pid):
                credentials = {"token": f"Authorization: Bearer {token}", "cookie": f"Cookie: {sign_in(base)}"}
                for target in URLS:
                    progress(f"web API, {workers} worker(s): {target.path} ({WARMUP_S} s warm-up, {MEASURE_S} s)")
                    urls.append(measure(base, pid, credentials, target, ids, scratch) | {"workers": workers})
    return {"dataset": dataset, "load": {"connections": CONNECTIONS, "threads": THREADS, "warmup_s": WARMUP_S,
                                         "measure_s": MEASURE_S, "cpus": os.cpu_count(),
                                         "load_average_start": load_average},
            "urls": urls, "all_met": all(u["met"] is not False for u in urls)}


def report_lines(result: dict[str, Any]) -> list[str]:
    """The readable table of :func:`run`'s result."""
    from bench.report import table

    if "skipped" in result:
        return [f"skipped: {result['skipped']}"]
    data, load = result["dataset"], result["load"]
    lines = [f"likeness serve on PostgreSQL: {data['agencies']} agencies, {data['performers']:,} performers, "
             f"{data['media']:,} media, {data['detections']:,} detections (seeded in {data['seed_s']:.0f} s); an "
             f"admin token of one agency ({DETECTIONS_PER_AGENCY:,} detections)",
             f"wrk: {load['connections']} connections, {load['threads']} threads, {load['measure_s']} s per URL after "
             f"{load['warmup_s']} s of warm-up, on the same {load['cpus']} CPUs as the server and PostgreSQL"]
    lines.append(f"Load average before the benchmark: {load['load_average_start']:.1f} (1 min)" + (
        " — BUSY: other processes shared the CPUs" if load["load_average_start"] > 0.5 * load["cpus"] else ""))
    baselines = {u.get("workers", 1): u["p95_ms"] for u in result["urls"] if u["target_ms"] is None}
    lines += table(["URL (server processes)", "p50 ms", "p95 ms", "p99 ms", "× baseline p95", "requests/s",
                    "errors", "server CPU ms/req", "KB", "target p95"], [
        [f"{u['path']} ({u.get('workers', 1)})", f"{u['p50_ms']:.1f}", f"{u['p95_ms']:.1f}", f"{u['p99_ms']:.1f}",
         f"{u['p95_ms'] / baselines[u.get('workers', 1)]:.1f}×",
         f"{u['requests_per_s']:.0f}", str(u["non2xx"] + u["socket_errors"]),
         f"{u['server_cpu_ms_per_request']:.1f}", f"{u['response_bytes'] / 1024:.1f}",
         "baseline" if u["target_ms"] is None else f"< {u['target_ms']:g} ms: {'met' if u['met'] else 'NOT met'}"]
        for u in result["urls"]])
    return lines
