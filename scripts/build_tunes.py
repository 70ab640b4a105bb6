"""Build the package's table of 词牌 (ci tunes) from the Song ci corpus.

    python scripts/build_tunes.py ../shared/data/songci.jsonl

For every tune with at least two clean ci (no editorial marks, only Han characters and
，。、 punctuation), the pattern is the most common sequence of line lengths among its ci;
each line's closing mark is the one most of those ci use there; the rhyme tone is the
平/仄 class most of the 。-closed lines of those ci end in (平水韵, either reading counted
for characters with two). Writes src/lstmkit/poetry/tunes.json with, per tune, how many
ci follow the pattern out of how many were read.

Each tune also gets per-line rhyme labels (``rhymes``), from how the ci following its
pattern rhyme under 词林正韵 (``poetry/cilin.py``). Two lines rhyme together in a ci when
their last characters share a part; lines that do so in most ci are joined into rhyme
sets (average linkage: a line joins a set when it shares a part with the set's lines in at
least 60% of the ci). A set of two or more lines gets a letter, A, B, ... by first line;
each of its lines gets the tone classes its end takes in the set's part (平, 仄 for 上去,
入), those seen in at least 3% of the ci where the set keeps one part. So 菩萨蛮 is
``["A仄入", "A仄入", "B平", "B平", "C仄入", "C仄入", "D平", "D平"]`` and 西江月 rhymes level
and oblique in one part (``"A平", "A平", "A仄"``). "" marks a line left free.

A label may end in a mark (the format is documented in ``poetry/forms.py``):

- ``叠句`` when in at least half the ci the line repeats the end of the line before (如梦令
  知否，知否; 忆秦娥 秦楼月。秦楼月), else ``叠韵`` when in at least half the ci it ends on
  the line before's last character (长相思 汴水流，泗水流: 57% and 59% of its ci); only where
  the line before is in the same set. Below half (丑奴儿 24%) a repeat stays a fault.
- ``?`` (may rhyme) when the line's end shares a part with most of its set's other lines in
  fewer than 75% of the ci where they show one. Over the tunes with at least 20 ci, 95% of
  labelled lines do so in at least 85% of the ci (the rest of those are dialect rhymes and
  unlisted characters, spread over the lines); the lines below 75% are 2.5% of them, such as
  柳梢青 line 1 (64%) and 千秋岁 line 9 (59%), lines a ci may or may not rhyme.

A tune whose ci split into two rhyme schemes keeps both: when the ci whose last line ends
level (平 only) and those ending oblique or entering (no 平 reading) are each at least 20%
of the ci and their labels rhyme on different lines, ``rhymes`` holds the larger group's
labels and ``rhymes_alt`` the other's. Of the tunes with at least 20 ci only 柳梢青 splits
so (108 level, 42 entering; the entering form leaves line 7 free).

``neighbours`` lists the pairs of parts Song ci rhyme across (邻部通押): pairs that, over
the tunes with at least 20 ci, hold a whole rhyme set that no one part holds in at least
0.25% of the set instances (about 40 sets over the corpus: Song usage, which the checker
notes as 邻部通押; the writer keeps each set in one part).
``bench/ci_rhyme.py`` measures how many real ci the labels accept.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "lstmkit" / "poetry" / "tunes.json"
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.poetry.cilin import CLASSES, ENTERING, Cilin, default_cilin  # noqa: E402
from lstmkit.poetry.forms import parse_label  # noqa: E402
from lstmkit.poetry.prosody import PING, ZE, default_prosody  # noqa: E402

SEGMENT = re.compile(r"([\u4e00-\u9fff]+)([，。、])")
MIN_CI = 2
LINK = 0.6  # share of ci in which a line must rhyme with a set's lines to join it
CLASS_SHARE = 0.03  # share of ci in which a tone class must appear to be allowed
REPEAT = 0.5  # share of ci that must repeat the line before's end for a 叠韵/叠句 mark
OPTIONAL = 0.75  # share of ci below which a labelled line only may rhyme (?)
ALT_SHARE = 0.2  # share of ci each of two rhyme schemes must hold to keep both
NEIGHBOUR_CI = 20  # tunes with at least this many ci count towards the neighbours
NEIGHBOUR_SHARE = 0.0025  # share of set instances a pair of parts must hold to be neighbours
MAX_COVER = 3  # the most parts one rhyme set may span (each pair of them neighbours)


def segments(text: str) -> list[tuple[str, str]] | None:
    parts = SEGMENT.findall(text)
    return parts if parts and "".join(a + b for a, b in parts) == text else None


def rhyme_sets(ends: list[list[str]], cilin: Cilin) -> list[list[int]]:
    """Lines (0-based) that rhyme together, clustered by average linkage on how often
    their ends share a 词林正韵 part; sets of two or more lines, by first line."""
    parts = [[{part for part, _ in cilin.homes(char)} for char in row] for row in ends]
    lines = len(ends[0])
    share = [[sum(bool(row[i] & row[j]) for row in parts) / len(parts) for j in range(lines)]
             for i in range(lines)]
    clusters = [[i] for i in range(lines)]
    while len(clusters) > 1:
        link, x, y = max((sum(share[i][j] for i in a for j in b) / (len(a) * len(b)), x, y)
                         for x, a in enumerate(clusters) for y, b in enumerate(clusters) if x < y)
        if link < LINK:
            break
        clusters[x] = sorted(clusters[x] + clusters.pop(y))
    return sorted(c for c in clusters if len(c) > 1)


def line_classes(ends: list[list[str]], lines: list[int], cilin: Cilin) -> list[str]:
    """The tone classes each of ``lines`` ends in, in the ci where the set keeps one part
    (all three for a line no ci tells)."""
    seen = [Counter() for _ in lines]
    kept = 0
    for row in ends:
        homes = [set(cilin.homes(row[i])) for i in lines]
        common = set.intersection(*({part for part, _ in h} for h in homes))
        if not common:
            continue
        kept += 1
        for counter, h in zip(seen, homes):
            classes = {cls for part, cls in h if part in common}
            if len(classes) == 1:  # a character read in two classes tells nothing
                counter.update(classes)
    return ["".join(c for c in CLASSES if counter[c] >= CLASS_SHARE * kept) or "平仄入"
            for counter in seen]


def rhyme_share(ends: list[list[str]], line: int, classes: str, others: list[tuple[int, str]],
                cilin: Cilin) -> float:
    """The share of ci in which ``line``'s end (in ``classes``) shares a part with the most
    of ``others`` (line, classes), over the ci where those show a part."""
    hits = shown = 0
    for row in ends:
        count = Counter(part for i, k in others
                        for part in {part for part, cls in cilin.homes(row[i]) if cls in k})
        if count:
            best = max(count.values())
            shown += 1
            hits += any(count[part] == best and cls in classes for part, cls in cilin.homes(row[line]))
    return hits / shown if shown else 1.0


def repeat_kind(texts: list[list[str]], line: int) -> str:
    """叠句 or 叠韵 when most ci repeat the line before's end at ``line`` (see the docstring)."""
    whole = sum(row[line] == row[line - 1][-len(row[line]):] for row in texts) / len(texts)
    end = sum(row[line][-1] == row[line - 1][-1] for row in texts) / len(texts)
    return "叠句" if whole >= REPEAT else "叠韵" if end >= REPEAT else ""


def rhyme_labels(texts: list[list[str]], cilin: Cilin) -> list[str]:
    """Each line's label over the ci's line ``texts``: set letter, tone classes and a mark
    (A仄入, A平?, A平叠韵), or "" for a free line."""
    ends = [[line[-1] for line in row] for row in texts]
    labels = [""] * len(ends[0])
    for letter, lines in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", rhyme_sets(ends, cilin)):
        classes = dict(zip(lines, line_classes(ends, lines, cilin)))
        for line in lines:
            others = [(i, k) for i, k in classes.items() if i != line]
            optional = rhyme_share(ends, line, classes[line], others, cilin) < OPTIONAL
            repeat = repeat_kind(texts, line) if line - 1 in classes else ""
            labels[line] = letter + classes[line] + "?" * optional + repeat
    return labels


def label_rows(texts: list[list[str]], cilin: Cilin) -> list[list[str]]:
    """The tune's label rows: one, or the larger then the smaller scheme when its ci split
    by the tone of their last rhyme into two groups that rhyme on different lines."""
    groups = defaultdict(list)
    for row in texts:
        classes = {cls for _, cls in cilin.homes(row[-1][-1])}
        groups[PING if classes == {PING} else ZE if classes and PING not in classes else ""].append(row)
    if min(len(groups[PING]), len(groups[ZE])) >= ALT_SHARE * len(texts):
        rows = [rhyme_labels(g, cilin) for g in sorted((groups[PING], groups[ZE]), key=len, reverse=True)]
        if [bool(x) for x in rows[0]] != [bool(x) for x in rows[1]]:
            return rows
    return [rhyme_labels(texts, cilin)]


def neighbours(rhymed: list[tuple[list[str], list[list[str]]]], cilin: Cilin) -> list[list[str]]:
    """Pairs of parts Song ci rhyme across (邻部通押), over ``rhymed`` (labels, line ends of
    its ci) for the common tunes: each rhyme set no single part holds counts the pairs
    within its smallest covers of two or three parts (第十七部+第十八部+第十九部 counts three
    pairs). The entering parts (第十五部 to 第十九部) join as one family when the sets that
    only they together hold reach the same share: Song poets rhymed -p, -t and -k endings
    together, spread over many pairs no one of which reaches it."""
    pairs, instances, entering_mixed = Counter(), 0, 0
    entering = cilin.parts_with(ENTERING)
    for labels, ends in rhymed:
        sets = defaultdict(list)
        for line, text in enumerate(labels):
            label = parse_label(text)
            if label:
                sets[label.letter].append((line, label.classes))
        for members in sets.values():
            for row in ends:
                instances += 1
                homes = [{part for part, cls in cilin.homes(row[i]) if cls in classes}
                         for i, classes in members]
                if set.intersection(*homes) or not all(homes):
                    continue
                entering_mixed += all(h & set(entering) for h in homes)
                union = sorted(set.union(*homes), key=list(cilin.parts).index)
                for size in range(2, MAX_COVER + 1):
                    covers = [c for c in combinations(union, size) if all(h & set(c) for h in homes)]
                    for cover in covers:
                        pairs.update(combinations(cover, 2))
                    if covers:
                        break
    found = [list(pair) for pair, count in pairs.most_common() if count >= NEIGHBOUR_SHARE * instances]
    return found + ([entering] if entering_mixed >= NEIGHBOUR_SHARE * instances else [])


def build(source: Path) -> dict:
    prosody = default_prosody()
    cilin = default_cilin()
    by_tune: dict[str, list[list[tuple[str, str]]]] = defaultdict(list)
    read = Counter()
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            tune = record.get("rhythmic", "").strip()
            read[tune] += 1
            parts = segments("".join(record.get("paragraphs", [])).replace(" ", ""))
            if tune and parts:
                by_tune[tune].append(parts)
    tunes, rhymed = [], []
    for tune, cis in by_tune.items():
        if len(cis) < MIN_CI:
            continue
        shapes = Counter(tuple(len(a) for a, _ in ci) for ci in cis)
        lengths, follow = shapes.most_common(1)[0]
        matching = [ci for ci in cis if tuple(len(a) for a, _ in ci) == lengths]
        marks = "".join(Counter(ci[i][1] for ci in matching).most_common(1)[0][0]
                        for i in range(len(lengths)))
        tones = Counter()
        for ci in matching:
            for (words, _), mark in zip(ci, marks):
                if mark == "。":
                    tones.update(prosody.read(words[-1]).tones)
        rhyme_tone = PING if tones[PING] >= tones[ZE] else ZE
        texts = [[words for words, _ in ci] for ci in matching]
        ends = [[words[-1] for words in row] for row in texts]
        labels, *alt = label_rows(texts, cilin)
        if read[tune] >= NEIGHBOUR_CI:
            rhymed.append((labels, ends))
        tunes.append({"name": tune, "lengths": list(lengths), "marks": marks,
                      "rhyme_tone": rhyme_tone, "rhymes": labels, "follow": follow, "ci": read[tune],
                      **({"rhymes_alt": alt[0]} if alt else {})})
    tunes.sort(key=lambda t: (-t["ci"], t["name"]))
    return {"source": "Song ci (全宋词) from chinese-poetry/chinese-poetry, public domain; "
                      "built by scripts/build_tunes.py",
            "neighbours": neighbours(rhymed, cilin), "tunes": tunes}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python scripts/build_tunes.py PATH/TO/songci.jsonl")
    table = build(Path(argv[0]))
    OUT.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    print(f"wrote {OUT} ({len(table['tunes'])} tunes)")


if __name__ == "__main__":
    main(sys.argv[1:])
