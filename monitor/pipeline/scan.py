"""Scanning: any file or URL → content store → analysis (once per content) → detections.

Each item is handled on its own: its failure is recorded on its row and the next item goes on.
Database writes for one item happen in one transaction, after the analysis, so a crash or a bad
file never leaves half an item behind. With several workers (``[workers] analysis``), analyses run
in worker processes (monitor.analysis.workers) while this process stores items and writes results.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from enrollment import face, voice
from enrollment.agencies import agency_for
from enrollment.errors import LikenessError, printable, shown
from enrollment.models import utc_now
from monitor.analysis.analyse import Analysis, analyse, analysis_key, model_versions, voice_chance
from monitor.analysis.workers import AnalysisPool, worker_count
from monitor.config import Config
from monitor.fetch.download import download, is_url
from monitor.matching.face_cohort import sync_face_cohort_dir
from monitor.matching.gallery import Gallery
from monitor.matching.voice_cohort import scoring_gallery, sync_cohort_dir
from monitor.pipeline import tenants
from monitor.pipeline.guard import item_failures
from monitor.pipeline.record import Seen, record_not_analysed, record_sighting, save_match
from monitor.storage import claims
from monitor.storage.analysed_news import announce_analysed
from monitor.storage.content_store import content_store
from monitor.storage.detections import detection_json, detections_for_media
from monitor.storage.models import Media

CLAIM_POLL_S = 0.5  # how often a scan waiting for another process's analysis of the same content looks again
MIN_TARGETS_FOR_POOL = 8  # docs/performance.md: the pool pays for its start from about 30 min of audio
BROKER_IN_FLIGHT = 64  # items a scan has the broker's workers analyse at once (it only waits for each one's news)


class StoredFileMissing(LikenessError):
    """Content recorded as stored is in neither this machine's store nor the shared bucket."""


@dataclass
class ScanRow:
    """One item's outcome: the ``scan`` command's JSON row."""

    source: str
    sha256: str | None = None
    media_type: str | None = None
    duration_s: float | None = None
    error: str | None = None
    detections: list[dict] | None = None
    closest: list[dict] | None = None
    content_credentials: dict | None = None
    reused: bool = False

    def fail(self, reason: str) -> None:
        self.error = shown(reason)

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "duration_s": round(self.duration_s, 2) if self.duration_s is not None else None,
            "error": self.error,
            "detections": self.detections or [],
            "closest": self.closest or [],
            "content_credentials": self.content_credentials,
        }


class Scanner:
    """Scans items against the performers enrolled when it was created (gallery loaded once).

    ``workers``: analyses at once (default ``[workers] analysis``; 0: one per core). With more than one,
    :meth:`scan_all` and the crawl analyse on a pool of worker processes; with one, in this process.
    """

    def __init__(self, config: Config, sessions: sessionmaker[Session], workers: int | None = None,
                 actor: str | None = None, agency_id: int | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.actor = actor  # who the custody entries name (None: this process's user@host)
        # who scans the targets given to scan() (default: the install's only agency); a crawl's Seen names its own
        self.agency_id = agency_id
        self.store = content_store(config)
        self.broker_url = config.broker_url  # analyses go to `likeness worker` processes where set
        self.workers = worker_count(config.workers.analysis if workers is None else workers)
        self.workers_asked = workers is not None  # --workers N: the pool even for a small batch
        self._pool: AnalysisPool | None = None
        self._content_locks: dict[str, threading.Lock] = {}  # one per content seen by this scanner (one command)
        self._locks_lock = threading.Lock()
        if config.voice.cohort_dir or config.face.cohort_dir:
            with sessions.begin() as session:
                sync_cohort_dir(session, config.voice, config.media)
                sync_face_cohort_dir(session, config.face, config.media)
        with sessions() as session:
            self.gallery: Gallery = scoring_gallery(session, config.voice)
        self.key = analysis_key(config, self.gallery)
        self.models = model_versions(self.gallery)  # {"voice", "face"}: a worker with others refuses the work
        # a claim older than the longest an analysis may run is its holder's, lost with its machine
        self.claim_lease_s = config.workers.item_timeout_s + 60.0

    @property
    def in_flight(self) -> int:
        """Items driven at once (threads of this process): one per worker, plus one queued so that a worker
        that finishes starts its next item at once instead of waiting for a result to be written. With a broker,
        BROKER_IN_FLIGHT: the workers analyse, this process waits."""
        if self.broker_url:
            return BROKER_IN_FLIGHT
        return self.workers + 1 if self._pool is not None or self.workers > 1 else 1

    @contextmanager
    def workers_running(self, force: bool = False) -> Iterator[AnalysisPool | None]:
        """Inside, analyses go to a pool of ``self.workers`` processes (started by the first item), closed at the
        end; with one worker they stay in this process (None), unless ``force`` (benchmarks: one process, one
        thread); never with a broker (its workers analyse)."""
        if self._pool is not None or (self.workers <= 1 and not force) or self.broker_url:
            yield self._pool
            return
        pool = self._pool = AnalysisPool(self.config, self.gallery, self.workers)
        cancel = True  # on an error or Ctrl-C, items not yet started are dropped
        try:
            yield pool
            cancel = False
        finally:
            self._pool = None
            pool.close(cancel=cancel)

    def scan_all(self, targets: Iterable[str], on_done: Callable[[ScanRow], None] | None = None,
                 force_pool: bool = False) -> list[ScanRow]:
        """Every target's row, in the order given; ``on_done(row)`` in this thread as each one finishes.

        Several targets with several workers: ``in_flight`` threads each take a target through :meth:`scan`
        (store, record, analyse on a worker, write), so that storing and writing overlap the analyses.
        """
        targets = list(targets)
        if targets:
            self._own_agency()  # once, before any thread asks
        if self.broker_url:  # the workers analyse: this process waits on many at once
            return self._scan_in_threads(targets, on_done, max(1, min(len(targets), BROKER_IN_FLIGHT)))
        # starting the workers costs ~3.5 s (2 cores): a few files are done sooner in this process
        few = len(targets) <= 1 or (len(targets) < MIN_TARGETS_FOR_POOL and not self.workers_asked)
        if not force_pool and (self.workers <= 1 or few):
            rows = []
            for target in targets:
                rows.append(self.scan(target))
                if on_done is not None:
                    on_done(rows[-1])
            return rows
        with self.workers_running(force=True) as pool:
            pool.start_server()
            return self._scan_in_threads(targets, on_done, self.in_flight)

    def _scan_in_threads(self, targets: list[str], on_done: Callable[[ScanRow], None] | None,
                         threads: int) -> list[ScanRow]:
        with ThreadPoolExecutor(threads, "scan") as executor:
            futures = [executor.submit(self.scan, target) for target in targets]
            try:
                for future in as_completed(futures):
                    if on_done is not None:
                        on_done(future.result())
            except BaseException:  # Ctrl-C: items not started are dropped, those running finish
                for future in futures:
                    future.cancel()
                if self._pool is not None:  # before the threads are waited for: one may wait on a queued item
                    self._pool.close(cancel=True)
                raise
        return [future.result() for future in futures]

    def scan(self, target: str) -> ScanRow:
        """One target's row: its result, or its one-line error (a bad target never raises)."""
        row = ScanRow(source=printable(target) if is_url(target) else _local_source(target))
        stored = None
        with item_failures(row.fail, row.source):
            stored = self._ingest(target)
        if stored is None:
            return row
        return self.scan_stored(*stored, Seen(row.source, agency_id=self._own_agency()))

    def _own_agency(self) -> int:
        if self.agency_id is None:
            with self.sessions.begin() as session:
                self.agency_id = agency_for(session).id
        return self.agency_id

    def scan_stored(self, sha256: str, size_bytes: int, seen: Seen) -> ScanRow:
        """Analyse content already in the store (once per analysis key) and record where it was seen."""
        row = ScanRow(source=seen.source, sha256=sha256)
        with item_failures(row.fail, seen.source), self._content_lock(sha256):
            # the same bytes twice at once: in this process the lock, across processes the claim, makes the
            # second wait for the first's result and reuse it
            media = self._record_sighting(sha256, size_bytes, seen)
            if self.broker_url and media.analysis_key != self.key:
                return self._stored_result(self._analysed_by_a_worker(media), row, seen.agency_id)
            media = self._claimed_or_done(media)
            if media.analysis_key == self.key:
                row.reused = True
                return self._stored_result(media, row, seen.agency_id)
            with self._claim_released_on_error(sha256):
                return self._analysed(media, row, seen.agency_id)
        return row

    def analyse_content(self, sha256: str) -> None:
        """Analyse stored content under this scanner's key and store the result, once: nothing where that is
        done, wait where another process is doing it (a worker's task; a bad file's failure is stored)."""
        with self.sessions() as session:
            media = session.scalar(select(Media).where(Media.sha256 == sha256))
        if media is None:
            raise LikenessError(f"no media {sha256[:12]} is recorded")
        media = self._claimed_or_done(media)
        if media.analysis_key == self.key:
            return
        try:
            with self._claim_released_on_error(sha256):
                self._analysed(media, ScanRow(source=sha256), agency_id=None)
        except StoredFileMissing as missing:  # not the content's failure: whoever waits is told, a pass asks again
            with self.sessions.begin() as session:
                record_not_analysed(session, sha256, self.key, str(missing))
        except LikenessError:
            pass  # stored as the content's failure

    @contextmanager
    def _claim_released_on_error(self, sha256: str) -> Iterator[None]:
        """A bug, Ctrl-C, the database gone inside: the claim goes, the content waits for a pass."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception), self.sessions.begin() as session:
                claims.release(session, sha256, self.key)
            raise

    def _analysed_by_a_worker(self, media: Media) -> Media:
        """``media`` once a worker has analysed it (asked here, through the broker, after its sighting was
        committed); a worker whose performers differ (one enrolled since) analyses it under its own key, one whose
        models differ refuses it (its reason is the row's error)."""
        from monitor.broker.app import send_analysis
        from monitor.storage.analysed_news import FALLBACK_S, analysed_news

        news = analysed_news(self.sessions.kw["bind"])
        news.expect(media.sha256)  # before asking: the answer may come at once
        before, started_s = (media.analysis_key, media.analysed_at), time.monotonic()
        try:
            # the worker sizes the analysis's time to its media (monitor.worker.deadline); Celery's own limit, the
            # claim's lease (a minute past the largest), stops one stuck where the worker's watchdog cannot run
            send_analysis(self.broker_url, media.sha256, self.key, self.models,
                          self.claim_lease_s if self.config.workers.item_timeout_s > 0 else None)
            while time.monotonic() - started_s < self.claim_lease_s:
                news.wait(media.sha256, FALLBACK_S)
                with self.sessions() as session:
                    media = session.get(Media, media.id)
                if media.analysis_key == self.key or (media.analysis_key, media.analysed_at) != before:
                    return media
        finally:
            news.forget(media.sha256)
        raise LikenessError(f"no worker analysed it within {self.claim_lease_s:.0f} s (is `likeness worker` running?)")

    def _analysed(self, media: Media, row: ScanRow, agency_id: int | None) -> ScanRow:
        """Analyse claimed ``media`` and store the result, or the failure and its reason (then raised); the row
        shows ``agency_id``'s detections."""
        path = self.store.path_for(media.sha256)
        if not path.is_file():  # removed from the store by hand: nothing is stored, the next pass tries again
            raise StoredFileMissing(f"its stored file {media.sha256[:12]} is missing from the content store"
                                    f"{' and the shared bucket' if self.store.shared is not None else ''}")
        try:
            analysis = self._analyse(path)
        except LikenessError as error:
            self._save_failure(media.id, str(error))
            raise
        return self._save_analysis(media.id, analysis, row, agency_id)

    def _claimed_or_done(self, media: Media) -> Media:
        """``media`` once it is analysed under this key, or once this process holds its analysis claim
        (monitor.storage.claims); meanwhile another process analyses it, and this waits."""
        while True:
            if media.analysis_key == self.key:
                return media
            if claims.claim(self.sessions, media.sha256, self.key, self.claim_lease_s):
                with self.sessions.begin() as session:  # the holder may have finished just before
                    media = session.get(Media, media.id)
                    if media.analysis_key == self.key:
                        claims.release(session, media.sha256, self.key)
                return media
            time.sleep(CLAIM_POLL_S)
            with self.sessions() as session:
                media = session.get(Media, media.id)

    def _analyse(self, path: Path) -> Analysis:
        if self._pool is not None:
            return self._pool.submit(path).result()
        return analyse(path, self.config, self.gallery)

    def _content_lock(self, sha256: str) -> threading.Lock:
        with self._locks_lock:
            return self._content_locks.setdefault(sha256, threading.Lock())

    def _ingest(self, target: str) -> tuple[str, int]:
        if is_url(target):
            return download(target, self.store, self.config)
        return self.store.add_file(Path(target), self.config.media.max_file_bytes)

    def _record_sighting(self, sha256: str, size_bytes: int, seen: Seen) -> Media:
        for _attempt in range(2):  # a concurrent scan may insert the same content first
            try:
                with self.sessions.begin() as session:
                    return record_sighting(session, sha256, size_bytes, seen, actor=self.actor,
                                           config=self.config)
            except IntegrityError:
                continue
        raise LikenessError(f"could not record media {sha256[:12]}")

    def _stored_result(self, media: Media, row: ScanRow, agency_id: int) -> ScanRow:
        """The row of content analysed before under this key; an agency that finds it for the first time is told
        of its own detections now (its custody entry and alerts)."""
        row.media_type, row.duration_s = media.media_type, media.duration_s
        row.content_credentials = media.content_credentials
        if media.error:
            row.error = media.error
            return row
        with self.sessions.begin() as session:
            own_performers = tenants.agency_performers(session, agency_id)
            row.closest = tenants.own_rows(media.closest or [], own_performers)
            detections = [d for d in detections_for_media(session, media.id)
                          if d.performer_id in self.gallery.names and d.agency_id == agency_id]
            if not tenants.is_told(session, media, agency_id):
                tenants.tell(session, media, [agency_id], detections, self._analysis_entry(media) | {
                    "reused": True, "analysed_at": media.analysed_at.isoformat()}, self.gallery.names, self.config,
                             self.actor)
            row.detections = [detection_json(d, row.source) for d in detections]
        return row

    def _save_failure(self, media_id: int, reason: str) -> None:
        with self.sessions.begin() as session:
            media = session.get(Media, media_id)
            media.error, media.analysis_key, media.analysed_at = reason, self.key, utc_now()
            claims.release(session, media.sha256, self.key)
            announce_analysed(session, media.sha256)

    def _save_analysis(self, media_id: int, analysis: Analysis, row: ScanRow, agency_id: int | None) -> ScanRow:
        """Store the analysis and every match, and tell each agency that has found the media of its own."""
        with self.sessions.begin() as session:
            media = session.get(Media, media_id)
            media.media_type, media.duration_s = analysis.media_type, analysis.duration_s
            media.closest, media.error = analysis.closest, None
            media.content_credentials = analysis.content_credentials
            media.analysis_key, media.analysed_at = self.key, utc_now()
            claims.release(session, media.sha256, self.key)  # with the result: a waiter sees one or the other
            announce_analysed(session, media.sha256)
            detections = [
                save_match(session, media, match, *self._threshold_and_model(match.modality))
                for match in analysis.matches
            ]
            rosters, chance = tenants.voice_roster_sizes(session, self.gallery.voice_ids), voice_chance(self.config)
            for detection in detections:
                detection.details = tenants.in_own_roster_terms(detection.details, rosters.get(detection.agency_id, 1),
                                                                chance)
            tenants.tell(session, media, tenants.sighting_agencies(session, media.id), detections,
                         self._analysis_entry(media), self.gallery.names, self.config, self.actor)
            session.flush()
            row.detections = [detection_json(d, row.source) for d in detections if d.agency_id == agency_id]
            row.closest = tenants.own_rows(analysis.closest, tenants.agency_performers(session, agency_id))
        row.media_type, row.duration_s = analysis.media_type, analysis.duration_s
        row.content_credentials = analysis.content_credentials
        return row

    def _analysis_entry(self, media: Media) -> dict:
        """The details of an "analysed" custody entry that every agency's is told alike."""
        return {"analysis_key": self.key, "media_type": media.media_type, "duration_s": media.duration_s,
                "models": self.models,
                "content_credentials": media.content_credentials}

    def _threshold_and_model(self, modality: str) -> tuple[float, str]:
        if modality == "voice":
            return self.config.voice.threshold, voice.voice_model_version()
        return self.config.face.threshold, face.face_model_version()


def _local_source(target: str) -> str:
    """A local target as its sightings name it: the absolute path with links resolved (where they resolve),
    printable (a name's bytes that are not UTF-8 escaped)."""
    try:
        path = Path(target).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop: the file's own refusal will say so
        path = Path(os.path.abspath(target))
    return printable(str(path))
