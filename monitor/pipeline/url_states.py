"""What earlier visits left for each URL (``url_states``): read in batches of 500 URLs per query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage.models import Sighting, UrlState

BATCH = 500  # URLs per IN (...) query


def downloaded(sessions: sessionmaker[Session], urls: list[str], agency_id: int) -> set[str]:
    """Those of ``urls`` whose content is in the store already, found there by ``agency_id`` (another agency's
    download of the same URL is not this one's: it fetches the URL itself, for its own evidence)."""
    found: set[str] = set()
    with sessions() as session:
        for batch in _batches(list(dict.fromkeys(urls))):
            found.update(session.scalars(select(UrlState.url).where(
                UrlState.url.in_(batch), UrlState.sha256.is_not(None), _sighted_by(agency_id))))
    return found


def _sighted_by(agency_id: int):
    """Where ``agency_id`` has a sighting at the URL state's URL."""
    return exists().where(Sighting.source == UrlState.url, Sighting.agency_id == agency_id)


Validators = tuple[str | None, str | None, dict | None]  # etag, last_modified, links


def url_states(sessions: sessionmaker[Session], urls: list[str]) -> dict[str, Validators]:
    """(etag, last_modified, links) from the last visit of each of ``urls`` that has one."""
    states = {}
    with sessions() as session:
        for batch in _batches(urls):
            rows = session.execute(select(UrlState.url, UrlState.etag, UrlState.last_modified, UrlState.links)
                                   .where(UrlState.url.in_(batch)))
            states.update((url, (etag, modified, links)) for url, etag, modified, links in rows)
    return states


def download_states(sessions: sessionmaker[Session], urls: list[str],
                    agency_id: int) -> tuple[set[str], dict[str, datetime]]:
    """Of ``urls`` (repeats allowed): those whose content ``agency_id`` has in the store already (as
    :func:`downloaded`), and those whose download failed before, with when (one query per batch of distinct
    URLs)."""
    stored: set[str] = set()
    failed: dict[str, datetime] = {}
    with sessions() as session:
        for batch in _batches(list(dict.fromkeys(urls))):
            rows = session.execute(select(UrlState.url, UrlState.sha256, UrlState.last_fetched_at,
                                          _sighted_by(agency_id).label("own"))
                                   .where(UrlState.url.in_(batch)))
            for url, sha256, fetched_at, own in rows:
                if sha256 is not None and own:
                    stored.add(url)
                elif sha256 is None and fetched_at is not None:
                    failed[url] = _aware(fetched_at)
    return stored, failed


def never_tried_first(media: list[tuple], failed: dict[str, datetime]) -> list[tuple]:
    """``media`` (tuples whose first item is a URL) in the same order, except that URLs whose download failed
    before (``failed``: when) go last, the longest ago first: a run capped by ``crawl.max_files_per_run``
    then reaches new links instead of trying the same failing ones every time."""
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(media, key=lambda item: (item[0] in failed, failed.get(item[0], never)))


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _batches(urls: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(urls), BATCH):
        yield urls[start : start + BATCH]
