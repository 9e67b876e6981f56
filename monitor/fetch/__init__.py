"""Fetching from the web, politely and safely.

The HTTP client every crawl request goes through (``http``), one exchange as it happened
(``exchange``), the address rules checked before every request and again at connect time
(``addresses``, ``connector``), robots.txt (``robots``), WARC records of exchanges kept as evidence
(``warc``) and one URL downloaded for ``likeness scan`` (``download``). It imports ``storage`` (the
content store), ``monitor.config`` and ``enrollment``.
"""
