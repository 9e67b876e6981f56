"""Watching the world: configuration, storage, scanning, matching, detections and the CLI.

``monitor`` imports ``enrollment`` (the registry and the encoders); never the reverse.
"""
