"""词林正韵 lookup: the 19 rhyme parts (部) ci are judged by, and each character's parts.

A part merges several 平水韵 groups (第一部 = 一东 二冬 and their 上去 groups), so ci rhyme
more broadly than shi. Each part holds characters of a tone class: 平 (level) and 仄 (上去,
oblique) in parts 1-14, 入 (entering) alone in parts 15-19. A character with several
readings sits in several parts or classes. The table ships in the package (``cilin.json``,
built by ``scripts/build_cilin.py``, which already files characters the source lacks under
their 平水韵 group's part). A character the table still lacks is looked up as its standard
form from ``variants.json`` (沉 as 沈, 簷 as 檐), the table ``prosody.Prosody.read`` uses for
平水韵, so a variant form rhymes as its standard form does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .prosody import VARIANTS

LEVEL, OBLIQUE, ENTERING = "平", "仄", "入"
CLASSES = (LEVEL, OBLIQUE, ENTERING)
TABLE = Path(__file__).with_name("cilin.json")


@dataclass(frozen=True)
class RhymePart:
    name: str  # 第一部 ... 第十九部
    chars: dict[str, str]  # class (平 仄 入) -> its characters


class Cilin:
    """The 词林正韵 table with a per-character index."""

    def __init__(self, parts: list[RhymePart], variants: dict[str, str] | None = None):
        self.parts = {p.name: p for p in parts}
        self.variants = variants or {}  # character -> the standard form(s) it is read as
        self._homes: dict[str, list[tuple[str, str]]] = {}
        for part in parts:
            for cls, chars in part.chars.items():
                for char in chars:
                    self._homes.setdefault(char, []).append((part.name, cls))

    @classmethod
    def load(cls, path: Path = TABLE, variants: Path = VARIANTS) -> Cilin:
        data = json.loads(path.read_text(encoding="utf-8"))
        forms = json.loads(variants.read_text(encoding="utf-8"))["variants"]
        return cls([RhymePart(p["name"], {c: p[c] for c in CLASSES if c in p})
                    for p in data["parts"]], forms)

    def homes(self, char: str) -> tuple[tuple[str, str], ...]:
        """The (part, class) pairs holding ``char``, else its variant's standard form(s):
        ((第七部, 仄),) for 片, those of 檐 for 簷; () if neither is listed."""
        if char in self._homes:
            return tuple(self._homes[char])
        forms = self.variants.get(char, "")
        return tuple(dict.fromkeys(home for form in forms for home in self._homes.get(form, ())))

    def parts_with(self, classes: str) -> list[str]:
        """The parts, in order, that have characters of every class in ``classes``."""
        return [name for name, p in self.parts.items() if all(c in p.chars for c in classes)]


@lru_cache(maxsize=1)
def default_cilin() -> Cilin:
    """The bundled 词林正韵 table, loaded once."""
    return Cilin.load()
