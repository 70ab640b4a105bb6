"""How many real ci the tune table's rhyme labels accept, per tune with enough ci.

    python bench/ci_rhyme.py --corpus ../shared/data/songci.jsonl [--min-ci 20] [--top 30]

For every tune with at least ``--min-ci`` ci in the corpus, reads the clean ci (only Han
characters and ，。、) whose line lengths follow the tune's pattern and judges their line
ends by the tune's rhyme sets (``poetry/ci_rhyme.py``, ``judge_sets``): accepted when
every set rhymes (lines that may rhyme, ``?``, unjudged; by either label row of a tune
with two). Prints a Markdown table: the share the labels accept as the checker judges
(one 词林正韵 part per set, or a group of neighbouring parts); the share that also repeat
no rhyme character but at the tune's 叠韵/叠句 lines (the checker calls any other repeat
重韵, a fault Song poets still allowed themselves now and then in long tunes); the share
with one part only (as the generator writes); then how many of the ``--top`` most common
tunes reach the target.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from lstmkit.poetry.ci_rhyme import judge_sets
from lstmkit.poetry.cilin import Cilin, default_cilin
from lstmkit.poetry.forms import VerseForm, neighbour_parts, tunes

SEGMENT = re.compile(r"([\u4e00-\u9fff]+)([，。、])")
TARGET = 0.9


def read_ends(corpus: Path) -> dict[str, list[tuple[tuple[int, ...], list[str]]]]:
    """Tune -> (line lengths, line ends) of each clean ci."""
    found = defaultdict(list)
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = "".join(record.get("paragraphs", [])).replace(" ", "")
            parts = SEGMENT.findall(text)
            if parts and "".join(a + b for a, b in parts) == text:
                found[record.get("rhythmic", "").strip()].append(
                    (tuple(len(a) for a, _ in parts), [a[-1] for a, _ in parts]))
    return found


def share_accepted(form: VerseForm, judged: list[list[str]], cilin: Cilin,
                   neighbours: list[tuple[str, ...]], repeats: bool = False) -> float:
    """The share of ``judged`` (line ends per ci) in which every set rhymes (and, with
    ``repeats``, no rhyme character repeats but where the tune repeats it)."""
    def fine(ends: list[str]) -> bool:
        verdicts = judge_sets(form, ends, cilin=cilin, neighbours=neighbours)
        return all(not (v.faults if repeats else v.misses) for v in verdicts)
    return sum(map(fine, judged)) / len(judged)


def acceptance(corpus: Path, min_ci: int) -> list[dict]:
    """Per tune with ``min_ci`` ci or more, most common first: ci judged and shares accepted."""
    cilin, neighbours, by_tune = default_cilin(), neighbour_parts(), read_ends(corpus)
    rows = []
    for name, tune in tunes().items():
        if tune.ci < min_ci:
            continue
        judged = [ends for lengths, ends in by_tune[name] if lengths == tune.form.lengths]
        if not judged:
            continue
        rows.append({"tune": name, "ci": tune.ci, "judged": len(judged),
                     "labels": " | ".join(" ".join(label or "·" for label in row)
                                          for row in (tune.form.rhyme_labels, tune.form.rhyme_alt) if row),
                     "accepted": share_accepted(tune.form, judged, cilin, neighbours),
                     "no_repeat": share_accepted(tune.form, judged, cilin, neighbours, repeats=True),
                     "one_part": share_accepted(tune.form, judged, cilin, [])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--min-ci", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    rows = acceptance(args.corpus, args.min_ci)
    print("| tune | ci | judged | accepted | and no 重韵 | one part only | labels |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(f"| {row['tune']} | {row['ci']} | {row['judged']} | {row['accepted']:.1%} | "
              f"{row['no_repeat']:.1%} | {row['one_part']:.1%} | {row['labels']} |")
    top = rows[:args.top]
    met = [r["tune"] for r in top if r["accepted"] >= TARGET]
    total = sum(r["judged"] for r in rows)
    weighted, strict = (sum(r[key] * r["judged"] for r in rows) / total for key in ("accepted", "no_repeat"))
    print(f"\n{len(rows)} tunes with >= {args.min_ci} ci; {len(met)} of the {len(top)} most common "
          f"accept >= {TARGET:.0%}; all judged ci: {weighted:.1%} accepted, {strict:.1%} also without 重韵 "
          f"({sum(r['no_repeat'] >= TARGET for r in top)} of the {len(top)} at >= {TARGET:.0%})")
    print("below target: " + " ".join(f"{r['tune']} {r['accepted']:.0%}" for r in top if r["tune"] not in met))


if __name__ == "__main__":
    main()
