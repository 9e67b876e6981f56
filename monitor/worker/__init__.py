"""``likeness worker``: a front end like the command line and the web server, whose requests are the broker's
messages. Running a Celery worker on the install's broker (``run``) and the tasks it runs (``tasks``), each
calling a service operation. It imports ``monitor.services``, ``monitor.broker`` and ``monitor.config``.
"""
