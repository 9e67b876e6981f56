"""News of analyses stored: a process waiting for another's analysis wakes when its transaction commits, not on
its next look at the database; news of other content, or of a transaction rolled back, wakes nobody."""

from __future__ import annotations

import threading

import pytest

from monitor.storage.analysed_news import AnalysedNews, announce_analysed
from monitor.storage.db import open_database

pytestmark = pytest.mark.slow
NEVER_S = 3600.0  # a wait no test sits out: only news ends it


def _waiting(news: AnalysedNews, sha256: str) -> threading.Thread:
    waiter = threading.Thread(target=news.wait, args=(sha256, NEVER_S), daemon=True)
    waiter.start()
    return waiter


def test_a_waiter_wakes_when_the_analysis_is_committed_and_not_before(postgres_url):
    sessions = open_database(postgres_url)
    news = AnalysedNews(sessions.kw["bind"])
    try:
        news.expect("a" * 64)
        waiter = _waiting(news, "a" * 64)
        with sessions() as session:  # rolled back: nothing is told
            announce_analysed(session, "a" * 64)
            session.rollback()
        with sessions.begin() as session:  # another content's news
            announce_analysed(session, "b" * 64)
        waiter.join(2)
        assert waiter.is_alive()
        with sessions.begin() as session:
            announce_analysed(session, "a" * 64)
        waiter.join(120)
        assert not waiter.is_alive()
    finally:
        news.close()


def test_news_that_comes_before_the_wait_is_kept_for_it(postgres_url):
    sessions = open_database(postgres_url)
    news = AnalysedNews(sessions.kw["bind"])
    try:
        news.expect("c" * 64)  # the first expect waits until the listener is up
        with sessions.begin() as session:
            announce_analysed(session, "c" * 64)  # before anyone waits for it
        late = _waiting(news, "c" * 64)
        late.join(120)
        assert not late.is_alive()
    finally:
        news.close()
