"""civiclake: the data and decision platform behind a city district's community governance."""

__version__ = "0.1.0"
