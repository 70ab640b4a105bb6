"""Build the package's 词林正韵 table (the rhyme parts ci are judged by) from the data files.

    python scripts/build_cilin.py ../shared/data/cilin.json ../shared/data/pingshui.json

reads also the package's 平水韵 supplement (``poetry/supplement.json``, from the 廣韻) and
writes src/lstmkit/poetry/cilin.json: the 19 parts in order, each with its characters by
class: 平 (level) and 仄 (上去, oblique) for parts 1-14, 入 (entering) for parts 15-19.

The source lists miss some common characters that ci rhyme on (忧, 沉, 拍, ...). A 平水韵
group lies almost wholly inside one part and class (一东 in 第一部 平), so a character
missing from every part is added to the part and class of its 平水韵 group, when at least
70% of that group's listed characters agree. The share is below 100% even for whole groups
because characters of two readings are often listed under one reading only (十一尤 90%,
二十五径 75%, 三十陷 71%); the groups 词林正韵 splits lie at or below 67% (九蟹 67%, 十贿
59%, 十灰 53%, 十三元 50%, 十一队 44%) and add nothing. Characters the 平水韵 table lacks
but its supplement places (迹 in 十一陌, 遍 in 十七霰) join the part of their group the same
way; those of a split group (樽 in 十三元) stay out.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

POETRY = Path(__file__).resolve().parent.parent / "src" / "lstmkit" / "poetry"
OUT = POETRY / "cilin.json"
SUPPLEMENT = POETRY / "supplement.json"
CLASSES = {"平": "平", "上去": "仄", "入": "入"}  # source key -> class name in the table
AGREE = 0.7
SOURCE = ("词林正韵 (19 parts) via GitHub charlesix59/chinese_word_rhyme (MIT), simplified "
          "with OpenCC t2s; characters it lacks added from their 平水韵 group (Wikisource, "
          "public domain) or from the 廣韻 supplement; built by scripts/build_cilin.py")


def build(cilin_path: Path, pingshui_path: Path) -> dict:
    cilin = json.loads(cilin_path.read_text(encoding="utf-8"))
    pingshui = json.loads(pingshui_path.read_text(encoding="utf-8"))
    if len(cilin) != 19:
        raise SystemExit(f"{cilin_path}: expected 19 parts, found {len(cilin)}")
    parts = {name: {CLASSES[key]: "".join(dict.fromkeys(chars)) for key, chars in entry.items()}
             for name, entry in cilin.items()}
    listed: dict[str, set[tuple[str, str]]] = {}
    for name, classes in parts.items():
        for cls, chars in classes.items():
            for char in chars:
                listed.setdefault(char, set()).add((name, cls))
    added = Counter()
    homes_of: dict[str, tuple[str, str]] = {}  # 平水韵 group -> the part and class it lies in
    for group_name, group in pingshui.items():
        homes = Counter(home for char in group["chars"] for home in listed.get(char, ()))
        if not homes:
            continue
        (name, cls), count = homes.most_common(1)[0]
        if count < AGREE * sum(char in listed for char in group["chars"]):
            continue
        homes_of[group_name] = (name, cls)
        missing = "".join(c for c in dict.fromkeys(group["chars"]) if c not in listed)
        parts[name][cls] += missing
        added[name] += len(missing)
    supplement = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))["chars"]
    for char, groups in supplement.items():
        if char in listed:
            continue
        for home in dict.fromkeys(homes_of[g] for g in groups if g in homes_of):
            parts[home[0]][home[1]] += char
            added[home[0]] += 1
    return {"source": SOURCE, "added": sum(added.values()),
            "parts": [{"name": name, **classes} for name, classes in parts.items()]}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python scripts/build_cilin.py PATH/TO/cilin.json PATH/TO/pingshui.json")
    table = build(Path(argv[0]), Path(argv[1]))
    OUT.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    entries = sum(len(chars) for part in table["parts"] for key, chars in part.items() if key != "name")
    print(f"wrote {OUT} ({len(table['parts'])} parts, {entries} character entries, "
          f"{table['added']} added from 平水韵 groups, the table's and the supplement's)")


if __name__ == "__main__":
    main(sys.argv[1:])
