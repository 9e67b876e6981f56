"""Benchmarks and calibration studies (`make bench`); not part of the installed package."""
