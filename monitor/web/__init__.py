"""The web front end: the REST API (``/api/v1``) served over HTTP by ``likeness serve``.

Like the command line, it is parse → service (:mod:`monitor.services`) → answer: every operation is the
service's, with the context of the caller's token (their agency, role, scope and performers). ``app`` builds
the FastAPI application, ``api`` holds the ``/api/v1`` routes, ``problems`` turns every failure into an
RFC 9457 problem (never a traceback), ``uploads`` takes files in with a size limit and safe names, ``server``
runs uvicorn. It imports ``monitor.services`` and, for a constant or two, what lies below.
"""
