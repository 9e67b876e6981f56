"""Matching: found voices and faces scored against every enrolled performer at once.

``gallery`` holds the references and decides face matches; ``voice_turns`` groups a file's voice
windows into speakers, ``voice_scores`` normalises voice scores against a population (s-norm),
``voice_chance`` says how likely a score is by chance against the roster, and ``voice_match`` decides
voice matches from them; ``voice_cohort`` and ``face_cohort`` are the comparison populations (shipped,
added, enrolled) and ``face_population`` says where a face falls among other people's. It imports
``storage`` (cohort rows), ``monitor.config`` and ``enrollment``.
"""
