"""Build the package's table of variant forms: characters the rhyme table lacks, read as a
form of theirs that it holds.

    pip install char-converter==0.51   # build time only
    python scripts/build_variants.py ../shared/data/tang.jsonl ../shared/data/songci.jsonl

The poems use variant and old forms (簷 疎 刦 檝 劒) that the 平水韵 table, built from
standard forms, lacks; OpenCC's t2s leaves them as they are. char-converter's ``v2s``
table (6,578 variant -> standard mappings) names their standard forms. Writes
src/lstmkit/poetry/variants.json, character -> the form(s) to read it as, for the
characters of the given corpora that the table lacks (about 750 of the 4,600 it could list):

1. a variant whose standard form(s) the table holds (簷 -> 檐);
2. a variant whose single standard form the table lacks too (慙 -> 惭): it is read as that
   form, and stays unknown until the table has it;
3. a standard form whose variants the table holds (炉 -> 鑪): the table listed the
   character under another form;
4. ``EXTRA``: pairs char-converter does not make (each with its reason).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "src" / "lstmkit" / "poetry" / "pingshui.json"
OUT = TABLE.with_name("variants.json")
SOURCE = ("variant -> standard forms from char-converter 0.51 (PyPI, CharConverter('v2s')), "
          "kept where the 平水韵 table lacks the character; built by scripts/build_variants.py")
EXTRA = {
    "着": "著",  # zhuó/zháo: a later form of 著, which the table holds (十药 and 六语/六御)
    "沉": "沈",  # the modern form of 沈 chén (十二侵); the table lists only 沈
}


def corpus_chars(paths: list[Path]) -> set[str]:
    chars: set[str] = set()
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                chars.update(c for text in record["paragraphs"] for c in text if "\u4e00" <= c <= "\u9fff")
    return chars


def build(mapping: dict[str, list[str]], table: set[str], used: set[str]) -> dict:
    variants: dict[str, str] = {}
    for variant, standards in mapping.items():
        if variant in table or variant not in used:
            continue
        held = "".join(dict.fromkeys(s for s in standards if s in table and s != variant))
        if held:
            variants[variant] = held
        elif len(set(standards) - {variant}) == 1:
            variants[variant] = next(s for s in standards if s != variant)
    for standard in sorted(used - table - set(variants)):
        held = "".join(v for v, s in mapping.items() if s == [standard] and v in table)
        if held:
            variants[standard] = held
    variants.update(EXTRA)
    return {"source": SOURCE, "variants": dict(sorted(variants.items()))}


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python scripts/build_variants.py CORPUS.jsonl [CORPUS.jsonl ...]")
    from char_converter import CharConverter

    table = {c for g in json.loads(TABLE.read_text(encoding="utf-8"))["groups"] for c in g["chars"]}
    result = build(CharConverter("v2s").mapping, table, corpus_chars([Path(a) for a in argv]))
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(result['variants'])} characters)")


if __name__ == "__main__":
    main(sys.argv[1:])
