"""Build the package's table of how real poems repeat characters (``poetry/repetition.json``).

    python scripts/build_repetition.py ../shared/data/tang.jsonl ../shared/data/songci.jsonl

From the training split of each corpus (the 5% hash split the bundled models were trained
with, so held-out poems stay unseen), it records:

- per form (五绝 七绝 五律 七律: the Tang poems of that shape that keep the form under a
  strict ``check_poem``, since old-style poems of the same shape repeat more freely; ``ci``
  for every Song ci): how many poems were read, the share of characters that repeat an earlier character of the
  same poem, the share of poems using one character four or more times, and ``max_uses``:
  the most uses of one character that at least 1% of real poems of the form reach (a
  decoder that never exceeds it writes no more runaway repetition than poets did);
- reduplications (叠字): for each line length and position, the characters that real
  lines double there (the second of the pair stands at that 0-based position), seen at
  least ``MIN_DOUBLES`` times. 悠悠 opening a line is common; 中中 in mid-line is not.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "lstmkit" / "poetry" / "repetition.json"
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.data.corpus import load_poems, split_poems  # noqa: E402
from lstmkit.poetry.check import check_poem, split_lines  # noqa: E402
from lstmkit.poetry.forms import form_for_shape  # noqa: E402
from lstmkit.poetry.repetition import repeat_stats  # noqa: E402

MIN_DOUBLES = 2  # a reduplication seen once may be a copying slip; twice is a usage
RUNAWAY_SHARE = 0.01  # max_uses: the most uses one character reaches in >= 1% of poems


def _lines(text: str) -> list[str]:
    return [line.text for line in split_lines(text) if line.text]


def _max_uses(counts: list[int]) -> int:
    """The largest k such that at least RUNAWAY_SHARE of poems use one character k times."""
    hist = Counter(counts)
    total, reached = len(counts), 0
    for k in sorted(hist, reverse=True):
        reached += hist[k]
        if reached / total >= RUNAWAY_SHARE:
            return k
    return 1


def build(tang: Path, songci: Path) -> dict:
    by_form: dict[str, list[list[str]]] = defaultdict(list)
    doubles = {"shi": defaultdict(Counter), "ci": defaultdict(Counter)}
    for kind, path in (("shi", tang), ("ci", songci)):
        poems, _ = load_poems(path)
        train, _ = split_poems(poems, 0.05)
        for poem in train:
            lines = _lines(poem.text)
            if not lines:
                continue
            if kind == "ci":
                by_form["ci"].append(lines)
            else:
                form = (form_for_shape(len(lines), len(lines[0]))
                        if len({len(x) for x in lines}) == 1 else None)
                if form is not None and check_poem(poem.text, form=form).ok:
                    by_form[form.name].append(lines)
            for line in lines:
                for pos in range(1, len(line)):
                    if line[pos] == line[pos - 1]:
                        doubles[kind][f"{len(line)}:{pos}"][line[pos]] += 1
    forms = {}
    for name, poems in by_form.items():
        stats = [repeat_stats("".join(lines)) for lines in poems]
        chars = sum(s.chars for s in stats)
        forms[name] = {
            "poems": len(poems),
            "repeat_share": round(sum(s.repeats for s in stats) / chars, 5),
            "four_share": round(sum(s.most_uses >= 4 for s in stats) / len(stats), 5),
            "max_uses": _max_uses([s.most_uses for s in stats]),
        }
    table = {kind: {where: "".join(sorted(c for c, n in counter.items() if n >= MIN_DOUBLES))
                    for where, counter in sorted(found.items())}
             for kind, found in doubles.items()}
    return {"source": "training split (95%) of tang.jsonl and songci.jsonl; "
                      "built by scripts/build_repetition.py",
            "forms": forms, "doubles": {k: {w: c for w, c in v.items() if c} for k, v in table.items()}}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = build(Path(sys.argv[1]), Path(sys.argv[2]))
    if OUT.exists():  # keep the penalties scripts/calibrate_repetition.py chose
        for name, old in json.loads(OUT.read_text(encoding="utf-8"))["forms"].items():
            if "penalty" in old and name in data["forms"]:
                data["forms"][name]["penalty"] = old["penalty"]
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for name, f in data["forms"].items():
        print(f"{name}: {f['poems']} poems, repeated {f['repeat_share']:.2%}, "
              f"4+ uses {f['four_share']:.2%}, max_uses {f['max_uses']}")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")
