"""Measuring detection quality (``likeness eval``): degradations of clean recordings and photos
(``transforms``), genuine and impostor trials (``trials``; each voice trial file's windows, on a process per
core, in ``trial_files``), error rates (``metrics``), DET curves (``det_plot``) and the run itself (``run``).
It imports ``analysis`` (calibrations, one compute thread per process), ``matching``, ``monitor.config`` and
``enrollment``.
"""
