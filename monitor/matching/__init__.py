"""Matching: found voices and faces scored against every enrolled performer at once.

``gallery`` holds the references and decides matches; ``voice_scores`` normalises voice scores
against a population (s-norm); ``voice_screening`` and ``screening_kernel`` screen large galleries
exactly in 8 bits; ``voice_cohort`` and ``face_cohort`` are the comparison populations (shipped,
added, enrolled) and ``face_population`` says where a face falls among other people's. It imports
``storage`` (cohort rows), ``monitor.config`` and ``enrollment``.
"""
