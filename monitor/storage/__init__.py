"""Storage: where every stage writes down what it did, and nothing else.

The database (``db``: engine, sessions, migrations to the current schema on open, from ``migrations/``),
the rows of what the monitor found (``models``), the content-addressed media store
(``content_store``), the chain of custody kept from the first fetch (``custody``, hash-chained by
``chain``), detection rows read back as the contract's DETECTION objects (``detections``) and the
claims that let one process of many analyse a new content (``claims``).
Everyone writes down to it; it imports only ``monitor.config`` and ``enrollment``.
"""
