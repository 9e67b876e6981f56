"""The web front end served over HTTP by ``likeness serve``: the REST API (``/api/v1``) and the dashboard.

Like the command line, it is parse → service (:mod:`monitor.services`) → answer: every operation is the
service's, with the context of the caller (a bearer token's or a signed-in browser's: their agency, role,
scope and performers). ``app`` builds the FastAPI application; ``api`` holds the ``/api/v1`` routes, and
``enforcement_api`` those of notices and allow-lists; ``pages`` (sign-in, the review queue, a detection),
``admin_pages`` (performers, sources, alerts, users and tokens, the audit trail) and ``notice_pages`` (notices,
allowed uses) the dashboard, with ``templates/`` and ``static/`` (htmx, the keys, the styles) and
``charts`` (the score over time as SVG); ``security`` the headers, the cookie and the CSRF and origin checks;
``problems`` turns every failure into an RFC 9457 problem or an error page (never a traceback); ``uploads``
takes files in under a size limit with safe names, ``downloads`` sends evidence bundles; ``background`` runs
the scans asked for; ``server`` runs uvicorn. It imports ``monitor.services`` and, for a constant or two,
what lies below.
"""
