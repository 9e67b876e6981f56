"""Evidence: tamper-evident bundles of detections for legal teams, and their offline check.

``export`` gathers a detection's media, capture (WARC excerpts, ``warc_excerpt``), analysis and
custody log into a signed zip (``bundle``, Ed25519 keys in ``keys``, an RFC 3161 timestamp through
``timestamp`` and ``cms``) with a human report (``report``); ``verify`` checks one offline. The
custody log itself is kept in ``monitor.storage``. It imports ``alerts`` (its pictures),
``storage``, ``monitor.config`` and ``enrollment``.
"""
