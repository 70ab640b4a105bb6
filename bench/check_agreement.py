"""How ``lstmkit check`` judges real held-out poems of regulated shape, and how often poems
rhyme on a rare reading of a merged simplified character.

    OMP_NUM_THREADS=1 python bench/check_agreement.py --corpus ../shared/data/tang.jsonl \
        --merged ../shared/data/pingshui_merged.json [-n 100] [--json FILE]

1. Held-out poems: the validation split of the bundled model (``split_poems(poems, 0.05)``),
   kept when they have a regulated shape (4 or 8 lines of 5 or 7 Han characters, closing
   marks as the form wants). Each is checked strict; the rejected ones are counted by cause:
   ``first-line`` (a tone break at line 1's last character), ``重韵`` (a rhyme character
   used twice), ``unknown character`` (a break at a character the rhyme table does not
   hold), ``rhyme`` and ``tone`` (any other break of that rule). A poem may have several.
   Notes (licences, rare readings, uncertain characters) are counted by their first word.
2. Rare merged readings: a rhyme on a simplified character of ``--merged`` in a group that
   its dominant traditional source (most line ends) does not have, counted over the held-out
   poems' rhymes and over ``-n`` 七绝 and ``-n`` 七律 written by the bundled ``tang`` model
   (seeds 0..n-1). The rule is computed here from the data file, independently of lstmkit.

Pass rate is not agreement: many real poems are 古绝 or 古风, which break the tones on purpose.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import torch

from lstmkit.bundled import bundled_model_dir
from lstmkit.data.corpus import load_poems, split_poems
from lstmkit.poetry.check import check_poem
from lstmkit.poetry.forms import FORMS
from lstmkit.poetry.prosody import default_prosody
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import Generator, SampleConfig
from lstmkit.tasks.lm import load_model


def rare_rhyme_groups(path: Path) -> dict[str, set[str]]:
    """Merged character -> the groups only its minor sources have."""
    rare = {}
    for char, sources in json.loads(path.read_text("utf-8")).items():
        dominant = max(sources, key=lambda s: (s["line_end_count"], s["count"]))
        others = {g for s in sources for g in s["groups"]} - set(dominant["groups"])
        if others:
            rare[char] = others
    return rare


def rare_rhymes(result, rare: dict[str, set[str]]) -> list[str]:
    group = result.rhyme_group
    return [f"{char}({group})" for _, char in result.rhymes if group in rare.get(char, ())]


def causes(result) -> set[str]:
    prosody = default_prosody()
    found = set()
    for v in result.violations:
        char = result.lines[v.line - 1].text[v.position - 1] if v.line and v.position else None
        if v.rule == "rhyme" and "repeats" in v.message:
            found.add("重韵")
        elif v.rule == "tone" and v.line == 1 and v.position == len(result.lines[0].text):
            found.add("first-line")
        elif char and prosody.read(char).source != "pingshui":
            found.add("unknown character")
        else:
            found.add(v.rule)
    return found


def held_out(corpus: str, rare: dict[str, set[str]]) -> dict:
    poems, _ = load_poems(corpus)
    _, val = split_poems(poems, 0.05)
    shaped = []
    for poem in val:
        shape = check_poem(poem.text, tones="off")
        if shape.form in FORMS and not any(shape.broken(r) for r in ("shape", "punctuation", "character")):
            shaped.append(poem.text)
    cause_count, note_count, examples, rare_found, rhymes = Counter(), Counter(), [], [], 0
    passed = 0
    for text in shaped:
        result = check_poem(text)
        rhymes += len(result.rhymes)
        rare_found += rare_rhymes(result, rare)
        note_count.update({n.split(":")[0] for n in getattr(result, "notes", [])})
        if result.ok:
            passed += 1
            continue
        found = causes(result)
        cause_count.update(found)
        if found - {"tone"} and len(examples) < 12:
            examples.append({"text": text, "causes": sorted(found),
                             "violations": [v.message for v in result.violations][:3]})
    return {"val_poems": len(val), "regulated_shape": len(shaped), "pass_strict": passed,
            "pass_rate": passed / len(shaped), "causes": dict(cause_count.most_common()),
            "notes": dict(note_count.most_common()), "rhymes": rhymes,
            "rare_merged_rhymes": rare_found, "examples": examples}


def generated(n: int, rare: dict[str, set[str]]) -> dict:
    loaded = load_model(str(bundled_model_dir("tang")))
    generator = Generator(loaded.model, loaded.vocab)
    out = {}
    for name in ("七绝", "七律"):
        request = PoemRequest(FORMS[name])
        found, rhymes, poems_hit = [], 0, 0
        for seed in range(n):
            text = write_poems(generator, request, 1, SampleConfig(seed=seed))[0].text
            result = check_poem(text, form=name)
            rhymes += len(result.rhymes)
            hits = rare_rhymes(result, rare)
            found += hits
            poems_hit += bool(hits)
        out[name] = {"poems": n, "rhymes": rhymes, "rare_rhymes": found, "rare_share": poems_hit / n}
        print(f"{name}: done", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--merged", required=True, help="pingshui_merged.json")
    parser.add_argument("-n", type=int, default=100, help="poems of each form to write (0: none)")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rare = rare_rhyme_groups(Path(args.merged))
    results = {"held_out": held_out(args.corpus, rare)}
    if args.n:
        results["generated"] = generated(args.n, rare)
    h = results["held_out"]
    print(f"held-out poems of regulated shape: {h['regulated_shape']} of {h['val_poems']}; "
          f"pass strict {h['pass_strict']} ({h['pass_rate']:.1%})")
    print("rejection causes (poems):", ", ".join(f"{k} {v}" for k, v in h["causes"].items()))
    print("notes (poems):", ", ".join(f"{k} {v}" for k, v in h["notes"].items()) or "none")
    print(f"rare merged readings at a rhyme: {len(h['rare_merged_rhymes'])} of {h['rhymes']} rhymes "
          f"{' '.join(h['rare_merged_rhymes'])}")
    for name, g in results.get("generated", {}).items():
        print(f"generated {name}: {len(g['rare_rhymes'])} rare merged rhymes in {g['poems']} poems "
              f"({g['rhymes']} rhymes) {' '.join(g['rare_rhymes'])}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")


if __name__ == "__main__":
    main()
