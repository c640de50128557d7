"""MOSS-ChatV's DTW process reward and MOSS-Video data, packaged as plugins for verl and lmms-eval."""

__version__ = "0.1.0"
