"""Enforcement: the takedown notices an agency sends about confirmed detections.

``letters`` writes a notice's text for its legal basis (a DMCA §512(c)(3) notice, a TAKE IT DOWN Act removal
request, a right-of-publicity demand, or the fields of a platform's own form) from plain facts: the agency,
the signer, the material and where it was found, the evidence bundle it cites. ``pdf`` sets that text as a
PDF; ``mail`` makes its e-mail; ``contacts`` finds where a notice goes from the host the material was found on.
``fingerprints`` takes and compares the perceptual fingerprints staydown keeps of confirmed clones (sound,
pictures, a video's frames). It imports ``monitor.config`` and ``enrollment`` only: the services gather the
facts and keep the notices.
"""
