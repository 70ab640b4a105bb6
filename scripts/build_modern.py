"""Build ``poetry/modern.json``: which Han characters (the blocks ``data.corpus.HAN``
matches) pypinyin reads only in tones 3 and 4 today, so ``prosody`` can call such a
character 仄 without importing pypinyin (0.35 s of a command's start) for the characters
the 平水韵 table lacks.

    python scripts/build_modern.py

Characters outside those blocks still go to pypinyin when they are read.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from pypinyin import Style, pinyin

OUT = Path(__file__).resolve().parent.parent / "src" / "lstmkit" / "poetry" / "modern.json"
RANGES = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)]  # as HAN


def oblique(char: str) -> bool:
    readings = pinyin(char, style=Style.TONE3, heteronym=True, errors="ignore")
    digits = {syllable[-1] for syllable in readings[0]} if readings else set()
    return bool(digits) and digits <= set("34")


def main() -> None:
    codes = [code for first, last in RANGES for code in range(first, last + 1)]
    chars = "".join(chr(code) for code in codes if oblique(chr(code)))
    OUT.write_text(json.dumps({"source": f"pypinyin {version('pypinyin')}", "ranges": RANGES,
                               "oblique": chars}, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {OUT}: {len(chars)} of {len(codes)} characters read only in tones 3 and 4")


if __name__ == "__main__":
    main()
