"""Where a file stops being UTF-8, for error messages that point at the real place.

A text stream's ``UnicodeDecodeError`` counts from the start of the block it was decoding,
not of the file; ``not_utf8_at`` decodes the file again in blocks and counts from its start.
"""

from __future__ import annotations

import codecs
from pathlib import Path


def not_utf8_at(path: Path) -> str:
    """Where the first byte that is not UTF-8 lies in the file ``path``: "line L, byte B"
    (1-based line, 0-based byte offset in the file), read in blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            pending = decoder.getstate()[0]  # bytes of a character split by the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                data = pending + block
                bad = offset - len(pending) + exc.start
                line = lines + data.count(b"\n", 0, exc.start) + 1
                return f"line {line}, byte {bad}"
            offset += len(block)
            lines += block.count(b"\n")
    return f"byte {offset}"  # cut off inside a character at the end
