"""``make demo``: a performer enrolled and found in media made on the spot, through the real CLI.

``__main__`` runs the tour (``python -m monitor.demo``); ``synthetic`` makes the voices and videos it
and the tests use (espeak-ng speech, PyAV video). It imports nothing of ``monitor`` but ``likeness``
itself, run as a command, and ``enrollment``'s errors.
"""
