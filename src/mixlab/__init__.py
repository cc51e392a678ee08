"""mixlab: AI mixing and mastering for music producers."""

__version__ = "0.1.0"
