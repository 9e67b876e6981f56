"""Services: every operation a user can ask for, written once, for every front end.

Each operation is a plain function ``operation(ctx, ...)`` that takes a :class:`Context` (the
configuration, the database sessions, the :class:`Actor` who asks, their agency, role and performers)
and returns plain data: the same dicts and lists the CLI prints with ``--json``. The CLI
(``monitor.cli``) is parse → call → print; the web app and the workers call the same functions. Failures
raise :class:`enrollment.errors.LikenessError` with one line for the user. Every state change records
its actor: in the rows that hold one (reviews, custody entries) and through :func:`audit.record`, in the
agency's hash-chained audit trail. Each checks what the actor's role may do (``roles``) and sees only
their agency's rows.

Modules: ``context`` (Context, Actor), ``roles``, ``audit``, ``home`` (init), ``accounts`` (agencies,
users, tokens), ``web_sessions`` (signing in from a browser), ``performers`` (add, consent, list,
remove, enrol), ``scans`` (at once, asked for and run in the background, or a worker's analysis),
``sources`` (add, list, pause, resume, remove, crawl, the daemon), ``detections`` (list, a page, one, review, pictures),
``evidence`` (export, verify), ``cohort`` and ``alerts`` (list, send, test, per-performer preferences).
It may import every package below it (``pipeline``, ``evidence``, ``evaluation``, ``alerts``,
``analysis``, ``matching``, ``sources``, ``fetch``, ``storage``), ``monitor.config`` and ``enrollment``;
nothing below imports it.
"""
