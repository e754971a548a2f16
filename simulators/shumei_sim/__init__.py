"""Simulators of the source systems of the 舒美红色小区 pipeline (registry, hotline, credit).

The pipeline never imports this package: it reads the simulators over HTTP and files only.
"""

__version__ = "0.1.0"
