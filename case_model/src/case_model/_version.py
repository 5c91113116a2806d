"""Package version; rewritten by the wheel builder with the trained model's version."""

__version__ = "0.0.0.dev0"
