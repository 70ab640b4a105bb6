"""Simplified or traditional characters for what lstmkit shows (OpenCC).

The models write simplified characters; ``to_script(text, "traditional")`` converts a
poem phrase by phrase (OpenCC ``s2t``), so 发 becomes 發 or 髮 as the words around it say.
A character streamed before its poem is whole is converted alone; the finished poem's text
is the one to keep.

One correction follows OpenCC: 里 after a numeral is the measure of distance (千万里, 十里,
数里), which stays 里, where OpenCC, finding no such phrase in its dictionary, reads a lone
里 as 裏 "inside" (千萬裏).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import LstmkitError

SCRIPTS = ("simplified", "traditional")
# 里 as a distance after a numeral, in OpenCC's traditional output.
_DISTANCE = re.compile("(?<=[一二三四五六七八九十百千萬兩數幾半])裏")


@lru_cache(maxsize=1)
def _s2t():
    import opencc  # a declared dependency; imported only when a conversion is asked for

    convert = opencc.OpenCC("s2t").convert
    return lambda text: _DISTANCE.sub("里", convert(text))


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s").convert


def to_simplified(text: str | None) -> str | None:
    """A reader's text (a locked line shown in traditional characters) as the models write it."""
    return _t2s()(text) if text else text


def check_script(script: str) -> str:
    if script not in SCRIPTS:
        raise LstmkitError(f"script must be one of {', '.join(SCRIPTS)} (got '{script}')")
    return script


def to_script(text: str, script: str = "simplified") -> str:
    """``text`` in ``script``: unchanged for simplified, OpenCC s2t for traditional."""
    return _s2t()(text) if check_script(script) == "traditional" else text
