"""Storage: where every stage writes down what it did, and nothing else.

The database (``db``: engine, sessions, migrations to the current schema on open, from ``migrations/``),
the rows of what the monitor found (``models``), the content-addressed media store (``content_store``,
shared between machines through an S3-compatible bucket: ``blobs``), the chain of custody kept from the
first fetch (``custody``, hash-chained by ``chain``), detection rows read back as the contract's DETECTION
objects (``detections``), the claims that let one process of many analyse a new content (``claims``), who
may use the install and each agency's audit trail (``accounts``, ``audit_log``), which rows an agency sees
(``tenancy``, with PostgreSQL's row-level security behind it), and the one process that may keep the
schedule (``one_holder``).
Everyone writes down to it; it imports only ``monitor.config`` and ``enrollment`` (and boto3 for a bucket).
"""
