"""Build the package's supplement to the 平水韵 table: the groups of common characters the
table lacks (啼 迹 遍 樽 惭 燃), derived from the 廣韻 (Guangyun, 1008).

    pip download qieyun==0.13.3 --no-deps -d /tmp/qieyun       # build time only
    unzip -o /tmp/qieyun/qieyun-0.13.3-*.whl Qieyun/rhyme_book.csv -d /tmp/qieyun
    pip install opencc==1.4.2                                   # build time only
    python scripts/build_supplement.py /tmp/qieyun/Qieyun/rhyme_book.csv \\
        ../shared/data/tang.jsonl ../shared/data/songci.jsonl

Why 廣韻. The main table comes from Wikisource's 平水韻 list, which leaves out common
characters; other public 平水韵 lists are scrapes of the same page or carry no licence. The
平水韵 is the 廣韻's rhymes merged as the Song examinations allowed (同用): 一东 = 東,
二冬 = 冬 鍾, 四支 = 支 脂 之, ... (``FAMILIES``), with 上 去 入 following their level rhyme
(蒸 登's 上 去 went to 迥 径; 祭 泰 夬 廢 have only 去). So a character's 廣韻 readings name
its 平水韵 groups. The source is independent of the Wikisource list, and the build checks
that they agree (``agreement``) before it takes anything, and stops below ``MIN_AGREEMENT``.

Source: ``rhyme_book.csv`` of the PyPI package qieyun 0.13.3 (nk2028, from nk2028/qieyun-data
at commit 7d7586a), licence CC0 1.0 (public domain dedication); only its 廣韻 rows (25,333
readings), each a head character and its 音韻地位 (e.g. 定開齊平: rhyme 齊, level tone).
Heads are traditional; each is simplified on its own with OpenCC ``t2s`` (the original is
kept as well, as for the main table, when conversion leaves the basic CJK block or the
corpora use the original).

Writes src/lstmkit/poetry/supplement.json: for each character of the given corpora that
neither the table nor ``variants.json`` places and the 廣韻 has, its groups, and for a
simplified character that merges traditional heads of different groups, each head's groups
and the groups it rhymes in: those every head has, since no count says which one a poem
means (``merged`` in the output; the main table's merged characters are in merged.json).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by a test
from build_variants import corpus_chars

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "src" / "lstmkit" / "poetry" / "pingshui.json"
VARIANTS = TABLE.with_name("variants.json")
OUT = TABLE.with_name("supplement.json")
SOURCE = ("平水韵 groups from the 廣韻 (rhyme_book.csv of qieyun 0.13.3 on PyPI, nk2028, CC0 1.0), "
          "廣韻 rhymes merged into 平水韵 groups, simplified with OpenCC t2s, kept where the "
          "平水韵 table lacks the character; built by scripts/build_supplement.py")
MIN_AGREEMENT = 0.95
PLACEHOLDERS = "囗"  # the corpora write it for a missing character, like □: not a reading

# The 30 rhyme families of the 平水韵, each the 廣韻 rhymes (named by their level tone, as
# 音韻地位 names them: 眞 holds 諄, 寒 桓, 歌 戈) that it merges.
FAMILIES = {
    "东": "東", "冬": "冬鍾", "江": "江", "支": "支脂之", "微": "微", "鱼": "魚", "虞": "虞模",
    "齐": "齊祭", "佳": "佳皆夬", "灰": "灰咍廢", "真": "眞臻", "文": "文欣", "元": "元魂痕",
    "寒": "寒", "删": "刪山", "先": "先仙", "萧": "蕭宵", "肴": "肴", "豪": "豪", "歌": "歌",
    "麻": "麻", "阳": "陽唐", "庚": "庚耕清", "青": "青", "蒸": "蒸登", "尤": "尤侯幽",
    "侵": "侵", "覃": "覃談", "盐": "鹽添嚴", "咸": "咸銜凡",
}
# The group's rhyme character for each family and tone (the group name ends with it).
GROUPS = {
    "平": dict(zip(FAMILIES, "东冬江支微鱼虞齐佳灰真文元寒删先萧肴豪歌麻阳庚青蒸尤侵覃盐咸")),
    "上": dict(zip(FAMILIES, "董肿讲纸尾语麌荠蟹贿轸吻阮旱潸铣筱巧皓哿马养梗迥迥有寝感琰豏")),
    "去": dict(zip(FAMILIES, "送宋绛寘未御遇霁卦队震问愿翰谏霰啸效号个祃漾敬径径宥沁勘艳陷")),
    "入": {"东": "屋", "冬": "沃", "江": "觉", "真": "质", "文": "物", "元": "月", "寒": "曷",
           "删": "黠", "先": "屑", "阳": "药", "庚": "陌", "青": "锡", "蒸": "职", "侵": "缉",
           "覃": "合", "盐": "叶", "咸": "洽"},
}
# Where the 平水韵 parts from its family: 泰 (去 only) is a group of its own, and 嚴's
# entering tone (業) went with 洽 (the 禮部韻略 let 業 乏 rhyme together).
SPECIAL = {("泰", "去"): "泰", ("嚴", "入"): "洽"}


def is_basic(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def group_names(table: list[dict]) -> dict[tuple[str, str], str]:
    """(tone, rhyme character) -> group name, e.g. (平, 齐) -> 八齐."""
    return {(g["tone"], g["name"][-1]): g["name"] for g in table}


def guangyun_groups(rows: list[dict], names: dict[tuple[str, str], str]) -> dict[str, list[str]]:
    """Traditional head -> its 平水韵 groups, in the 廣韻's order."""
    family_of = {rhyme: family for family, rhymes in FAMILIES.items() for rhyme in rhymes}
    heads: dict[str, list[str]] = {}
    for row in rows:
        if row["資料名稱"] != "廣韻":
            continue
        head = row["字頭"] or row["字頭覈校前"]
        position = row["最簡描述"]
        rhyme, tone = position[-2], position[-1]
        mark = SPECIAL.get((rhyme, tone)) or GROUPS.get(tone, {}).get(family_of.get(rhyme))
        if mark is None or (tone, mark) not in names:
            raise SystemExit(f"廣韻 reading {head} {position}: no 平水韵 group for rhyme {rhyme} tone {tone}")
        known = heads.setdefault(head, [])
        if names[tone, mark] not in known:
            known.append(names[tone, mark])
    return heads


def simplify(heads: dict[str, list[str]], used: set[str]) -> dict[str, dict[str, list[str]]]:
    """Simplified character -> {traditional head: its groups}: each head under its t2s form
    (itself when that leaves the basic block), and under itself too when the corpora use it."""
    from opencc import OpenCC

    t2s = OpenCC("t2s")
    out: dict[str, dict[str, list[str]]] = {}
    for head, groups in heads.items():
        simple = t2s.convert(head)
        forms = {simple if len(simple) == 1 and is_basic(simple) else head}
        if head in used:
            forms.add(head)
        for form in forms:
            out.setdefault(form, {})[head] = groups
    return out


def union(sources: dict[str, list[str]]) -> list[str]:
    return list(dict.fromkeys(g for groups in sources.values() for g in groups))


def agreement(ours: dict[str, set[str]], theirs: dict[str, dict[str, list[str]]],
              pingze: dict[str, str]) -> dict[str, float | int]:
    """How the two sources agree on the characters both have: a group in common (the gate:
    the 廣韻 lists every reading, the table often only the common ones), the same 平/仄
    classes, every group of ours among theirs, and the very same groups."""
    shared = [c for c in ours if c in theirs]
    counts = Counter()
    for char in shared:
        groups = set(union(theirs[char]))
        counts["overlap"] += bool(ours[char] & groups)
        counts["pingze"] += {pingze[g] for g in ours[char]} == {pingze[g] for g in groups}
        counts["covered"] += ours[char] <= groups
        counts["same"] += ours[char] == groups
    shares = {k: round(counts[k] / len(shared), 4) for k in ("overlap", "pingze", "covered", "same")}
    return {"shared": len(shared), **shares}


def build(rows: list[dict], table: list[dict], variants: dict[str, str], used: set[str]) -> dict:
    names = group_names(table)
    pingze = {g["name"]: g["pingze"] for g in table}
    ours: dict[str, set[str]] = {}
    for group in table:
        for char in group["chars"]:
            ours.setdefault(char, set()).add(group["name"])
    theirs = simplify(guangyun_groups(rows, names), used)
    agree = agreement(ours, theirs, pingze)
    if agree["overlap"] < MIN_AGREEMENT:
        raise SystemExit(f"the 廣韻 shares a group with the table for only {agree['overlap']:.1%} "
                         f"of {agree['shared']} shared characters (need {MIN_AGREEMENT:.0%}): not used")
    placed = set(ours) | {c for c, forms in variants.items() if any(f in ours for f in forms)}
    chars, merged = {}, {}
    for char in sorted(used - placed - set(PLACEHOLDERS)):
        if char in theirs:
            chars[char] = union(theirs[char])
            if len({tuple(g) for g in theirs[char].values()}) > 1:
                common = set.intersection(*(set(g) for g in theirs[char].values()))
                merged[char] = {"sources": theirs[char],
                                "rhyme_groups": [g for g in chars[char] if g in common]}
    return {"source": SOURCE, "agreement": agree, "chars": chars, "merged": merged}


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python scripts/build_supplement.py rhyme_book.csv CORPUS.jsonl [...]")
    with open(argv[0], encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = json.loads(TABLE.read_text(encoding="utf-8"))["groups"]
    variants = json.loads(VARIANTS.read_text(encoding="utf-8"))["variants"]
    result = build(rows, table, variants, corpus_chars([Path(a) for a in argv[1:]]))
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    agree = result["agreement"]
    print(f"wrote {OUT} ({len(result['chars'])} characters, {len(result['merged'])} merged); "
          f"agreement over {agree['shared']} shared characters: a group in common "
          f"{agree['overlap']:.1%}, 平仄 {agree['pingze']:.1%}, "
          f"ours within theirs {agree['covered']:.1%}, same groups {agree['same']:.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
