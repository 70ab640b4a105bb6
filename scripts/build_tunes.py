"""Build the package's table of 词牌 (ci tunes) from the Song ci corpus.

    python scripts/build_tunes.py ../shared/data/songci.jsonl

For every tune with at least two clean ci (no editorial marks, only Han characters and
，。、 punctuation), the pattern is the most common sequence of line lengths among its ci;
each line's closing mark is the one most of those ci use there; the rhyme tone is the
平/仄 class most of the 。-closed lines of those ci end in (平水韵, either reading counted
for characters with two). Writes src/lstmkit/poetry/tunes.json with, per tune, how many
ci follow the pattern out of how many were read.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "lstmkit" / "poetry" / "tunes.json"
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.poetry.prosody import PING, ZE, default_prosody  # noqa: E402

SEGMENT = re.compile(r"([\u4e00-\u9fff]+)([，。、])")
MIN_CI = 2


def segments(text: str) -> list[tuple[str, str]] | None:
    parts = SEGMENT.findall(text)
    return parts if parts and "".join(a + b for a, b in parts) == text else None


def build(source: Path) -> dict:
    prosody = default_prosody()
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
    tunes = []
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
        tunes.append({"name": tune, "lengths": list(lengths), "marks": marks,
                      "rhyme_tone": rhyme_tone, "follow": follow, "ci": read[tune]})
    tunes.sort(key=lambda t: (-t["ci"], t["name"]))
    return {"source": "Song ci (全宋词) from chinese-poetry/chinese-poetry, public domain; "
                      "built by scripts/build_tunes.py", "tunes": tunes}


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python scripts/build_tunes.py PATH/TO/songci.jsonl")
    table = build(Path(argv[0]))
    OUT.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    print(f"wrote {OUT} ({len(table['tunes'])} tunes)")


if __name__ == "__main__":
    main(sys.argv[1:])
