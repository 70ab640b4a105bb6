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


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7f, 0xa0))}


def printable(text: str, newlines: bool = False) -> str:
    """``text`` with control characters (escape sequences, bells, carriage returns...)
    written as ``\\x1b`` and the like, so echoing a user's input cannot drive the terminal;
    ``newlines`` keeps line breaks (and tabs) as they are."""
    table = dict(_CONTROL)
    if newlines:
        del table[0x0a], table[0x09]
    return text.translate(table)
