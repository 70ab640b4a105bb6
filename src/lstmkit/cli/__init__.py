"""The ``lstmkit`` command: a thin front-end that parses options, calls the library and
turns its errors into one-line messages. One module per family of commands."""

from . import classify, forecast, lm, poetry, serve  # noqa: F401  (each registers its commands)
from .base import main

__all__ = ["main"]
