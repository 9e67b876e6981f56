"""Alerts: who is told of a detection, and how.

The outbox written with each detection (``outbox``), what a message says (``findings``,
``message``, ``render`` with ``templates/``, pictures in ``pictures``), secrets kept out of logs
(``redaction``), and delivery with retries over e-mail, Apprise URLs and signed webhooks
(``channels``, ``sender``). It imports ``storage``, ``monitor.config`` and ``enrollment``.
"""
