"""Measuring detection quality: degradations, metrics and the ``likeness eval`` run."""
