"""Who we protect and how their likeness is described.

The agencies (the tenants: ``agencies``), the performer registry and consent (``models``,
``service``), decoding (``media``), the voice and face encoders (``voice``, ``face``) and the quality
gates (``quality``). ``monitor`` embeds found media with exactly this code, so like is compared with
like. Nothing here imports ``monitor``.
"""
