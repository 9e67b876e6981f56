"""The pipeline: items driven through fetching and analysis, and what they gave recorded.

``scan`` takes a file or URL into the content store, analyses each content once per analysis key (on the
worker pool when there are many) and records the media, where it was seen, its detections, the alert
outbox and custody entries in one transaction per item (``record``). ``crawl`` is one pass over the
sources, feeding what it finds to the same scan; ``scheduler`` runs crawls and alert sends on their
schedules. Each item runs inside ``guard`` (its failure is its own line, never the batch's end); a
crawl's downloads are budgeted by ``media_budget`` and ordered by what ``url_states`` remembers.
``tenants`` tells each agency only of its own detections, once it has found the media itself;
``scan_requests`` runs the scans asked for through the API; ``recheck`` captures again what sent takedown
notices name; ``allowed`` applies the allow-lists; ``staydown`` links re-uploads of confirmed clones. It
imports ``alerts`` (the outbox), ``enforcement`` (fingerprints),
``analysis``, ``matching``, ``sources``, ``fetch``, ``storage``, ``monitor.config`` and ``enrollment``.
"""
