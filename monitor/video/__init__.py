"""A video's faces: sampled frames → faces → tracks → matches.

``frame_changes`` tells what changed between sampled frames (shift, fade, zoom, changed tiles);
``faces`` finds and describes faces only where needed; ``face_tracks`` links faces into tracks and
``track_matching`` matches each track against the gallery. It imports ``matching``,
``monitor.config`` and ``enrollment``.
"""
