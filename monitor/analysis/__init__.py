"""Analysis: one media file → matches against every enrolled performer; nothing is stored here.

``analyse`` decodes a file, embeds its voice windows and faces with exactly the enrollment code
that embedded the references, and matches them (``monitor.matching``, ``monitor.video`` for a
video's faces); ``credentials`` reads its Content Credentials (C2PA) offline. ``workers`` and
``worker_process`` run analyses on a local pool of processes, whose fork server first imports
``fork_server`` (no warning or traceback of theirs reaches the terminal). It imports ``video``,
``matching``, ``monitor.config`` and ``enrollment``.
"""
