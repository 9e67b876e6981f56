"""What earlier visits left for each URL (``url_states``): read in batches of 500 URLs per query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage.models import UrlState

BATCH = 500  # URLs per IN (...) query


def downloaded(sessions: sessionmaker[Session], urls: list[str]) -> set[str]:
    """Those of ``urls`` whose content is in the store already."""
    found: set[str] = set()
    with sessions() as session:
        for batch in _batches(list(dict.fromkeys(urls))):
            found.update(session.scalars(select(UrlState.url).where(
                UrlState.url.in_(batch), UrlState.sha256.is_not(None))))
    return found


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


def download_states(sessions: sessionmaker[Session], urls: list[str]) -> tuple[set[str], dict[str, datetime]]:
    """Of ``urls`` (repeats allowed): those whose content is in the store already, and those whose download
    failed before, with when (one query per batch of distinct URLs)."""
    stored: set[str] = set()
    failed: dict[str, datetime] = {}
    with sessions() as session:
        for batch in _batches(list(dict.fromkeys(urls))):
            rows = session.execute(select(UrlState.url, UrlState.sha256, UrlState.last_fetched_at)
                                   .where(UrlState.url.in_(batch)))
            for url, sha256, fetched_at in rows:
                if sha256 is not None:
                    stored.add(url)
                elif fetched_at is not None:
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
