"""Measuring detection quality (``likeness eval``): degradations of clean recordings and photos
(``transforms``), genuine and impostor trials (``trials``), error rates (``metrics``), DET curves
(``det_plot``) and the run itself (``run``). It imports ``analysis`` (calibrations), ``matching``,
``monitor.config`` and ``enrollment``.
"""
