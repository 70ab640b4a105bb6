"""The one exception type users see: a problem with their input, said in one line."""


class LstmkitError(Exception):
    """A user-facing failure (bad file, bad option, corrupt checkpoint).

    The message is one line that names the problem and, where it helps, what to do.
    The CLI prints it as ``Error: <message>`` and exits with status 1.
    """


class CorpusError(LstmkitError):
    """A corpus file or folder cannot be read or holds nothing usable."""


class VocabError(LstmkitError):
    """Text holds characters the model's vocabulary does not know."""


class CheckpointError(LstmkitError):
    """A model folder is missing, incomplete or corrupt."""
