"""The ``lstmkit`` command: a thin front-end that parses options, calls the library and
turns its errors into one-line messages. One module per family of commands, imported when
one of its commands runs (``base.LstmkitGroup.lazy``)."""

from .base import main

__all__ = ["main"]
