"""Watching the world: every stage from a watched source to a reviewed detection.

The folders are the data flow: ``sources`` and ``fetch`` find and download media, ``analysis`` (with
``video`` and ``matching``) compares it with every enrolled performer, ``pipeline`` records what it
found in ``storage``; ``alerts`` and ``evidence`` act on detections; ``services`` holds every
operation a user can ask for, which the front ends (``cli``, and ``web``: the dashboard and the REST
API) call, each agency kept apart. ``config`` is the one settings
module. Layers point down (docs/design.md, enforced by tests/test_project.py); ``monitor`` imports
``enrollment``, never the reverse.
"""
