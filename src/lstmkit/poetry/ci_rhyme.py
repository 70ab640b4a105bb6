"""Ci rhyme by the tune's scheme: rhyme sets whose lines share one 词林正韵 part.

A tune's per-line labels (``VerseForm.rhyme_labels``, derived from the Song ci by
``scripts/build_tunes.py``) name each rhyming line's set and the tone classes its end may
take: 菩萨蛮 is A仄入 A仄入 B平 B平 C仄入 C仄入 D平 D平, so it changes rhyme three times,
and 西江月's set A holds level and oblique lines of one part (平仄通押). Lines without a
label are free. A line marked ``?`` may rhyme (not judged; the generator still rhymes it);
one marked 叠韵 or 叠句 repeats the line before's rhyme (the checker accepts that repeat, and
only there; the generator writes it: ``forced``). A tune with a second row of labels
(柳梢青) is judged by either row and written by the first. ``forms.py`` documents the labels.

A set rhymes when one part holds every line's end in that line's classes. Song ci also
rhyme across neighbouring parts (邻部通押: pairs such as 第六部+第十一部, three parts that
are pairwise neighbours, and the five entering parts as one family; derived from the
corpus into ``tunes.json``); the checker accepts those, while the generator keeps each
set in one part, so whatever it writes passes the checker. Both live here: ``judge_sets``
for ``check.check_poem``, ``CiRhymeMasks`` for ``constraint.FormConstraint``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING

from ..data.vocab import Vocab
from ..errors import LstmkitError
from .cilin import Cilin, default_cilin
from .forms import RhymeLabel, VerseForm, neighbour_parts, parse_label

if TYPE_CHECKING:  # numpy loads only where masks are built: checking a poem needs none
    import numpy as np


@dataclass(frozen=True)
class RhymeSet:
    letter: str  # A, B, ...: lines with one letter rhyme together
    lines: tuple[int, ...]  # 0-based
    classes: tuple[str, ...]  # per line, the tone classes its end may take: 平, 仄入, ...
    optional: tuple[bool, ...] = ()  # per line: may rhyme (not judged)
    repeats: tuple[str, ...] = ()  # per line: "", 叠韵 or 叠句 (repeats the line before's end)

    @property
    def tone(self) -> str:
        """The set's classes, line by line without repeats: 平, 仄入, 平/仄 (西江月)."""
        return "/".join(dict.fromkeys(self.classes))


def rhyme_sets(form: VerseForm) -> list[RhymeSet]:
    """The rhyme sets of a ci ``form``, by letter; none for regulated verse."""
    members: dict[str, list[tuple[int, RhymeLabel]]] = {}
    for line, text in enumerate(form.rhyme_labels):
        label = parse_label(text)
        if label:
            members.setdefault(label.letter, []).append((line, label))
    return [RhymeSet(letter, tuple(i for i, _ in m), tuple(lab.classes for _, lab in m),
                     tuple(lab.optional for _, lab in m), tuple(lab.repeat for _, lab in m))
            for letter, m in sorted(members.items())]


def repeated_lines(form: VerseForm) -> dict[int, str]:
    """0-based line -> 叠韵 or 叠句, for the lines of ``form`` that repeat the line before's end."""
    return {line: kind for s in rhyme_sets(form) for line, kind in zip(s.lines, s.repeats) if kind}


@dataclass
class SetVerdict:
    """How one set of a ci rhymes: its part and the lines that break it."""

    letter: str
    tone: str
    part: str | None  # 第七部, 第六部+第十一部 (neighbours), or None when no part fits a line
    lines: list[int]  # 1-based
    chars: list[str]
    misses: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, message)
    repeated: list[tuple[int, str]] = field(default_factory=list)  # 重韵: a rhyme used again

    @property
    def faults(self) -> list[tuple[int, str]]:
        """Every (1-based line, message) that breaks the set: misses, then repeated rhymes."""
        return self.misses + self.repeated

    def to_dict(self) -> dict:
        return {"set": self.letter, "tone": self.tone, "part": self.part, "lines": self.lines,
                "chars": self.chars}


def _fits(cilin: Cilin, char: str, classes: str, parts: set[str]) -> bool:
    return any(part in parts and cls in classes for part, cls in cilin.homes(char))


def _describe(cilin: Cilin, char: str) -> str:
    homes = cilin.homes(char)
    return "/".join(f"{part} {cls}" for part, cls in homes) if homes else "not in 词林正韵"


def judge_set(rhyme_set: RhymeSet, ends: list[str], cilin: Cilin,
              neighbours: list[tuple[str, ...]], part: str | None = None) -> SetVerdict:
    """Judge one set over the poem's line ends (``ends``: one character per line).

    Lines that may rhyme (``?``) are left out. The set keeps ``part`` when given, else the
    first part (then group of neighbouring parts, ``rhyme_units``) holding every end;
    failing that, the part holding the most ends judges the rest (``misses``). A rhyme
    character may repeat only at a 叠韵/叠句 line, and only the line before's; any other
    repeat is 重韵 (``repeated``).
    """
    judged = [k for k, optional in enumerate(rhyme_set.optional or [False] * len(rhyme_set.lines))
              if not optional]
    lines = [rhyme_set.lines[k] for k in judged]
    classes = [rhyme_set.classes[k] for k in judged]
    repeats = [rhyme_set.repeats[k] if rhyme_set.repeats else "" for k in judged]
    chars = [ends[i] for i in lines]
    verdict = SetVerdict(rhyme_set.letter, rhyme_set.tone, None, [i + 1 for i in lines], chars)
    units = [{part}] if part else [{p} for p in cilin.parts] + rhyme_units(tuple(map(tuple, neighbours)))
    for unit in units:
        if all(_fits(cilin, c, k, unit) for c, k in zip(chars, classes)):
            verdict.part = "+".join(p for p in cilin.parts if p in unit and  # the parts it uses
                                    any(_fits(cilin, c, k, {p}) for c, k in zip(chars, classes)))
            break
    else:
        fitting = {p: [_fits(cilin, c, k, {p}) for c, k in zip(chars, classes)]
                   for p in ([part] if part else cilin.parts)}
        best = max(fitting, key=lambda p: sum(fitting[p]))  # the first of the best, in table order
        verdict.part = best if any(fitting[best]) else None
        anchor = next((n for n, ok in zip(verdict.lines, fitting[best]) if ok), None)
        for n, char, ok in zip(verdict.lines, chars, fitting[best]):
            if ok:
                continue
            where = (f"should rhyme with line {anchor} (set {rhyme_set.letter}, {rhyme_set.tone}, {best})"
                     if anchor else f"should rhyme in set {rhyme_set.letter} ({rhyme_set.tone}) with lines "
                     + ", ".join(str(m) for m in verdict.lines if m != n))
            verdict.misses.append((n, f"line {n} {where}: '{char}' is {_describe(cilin, char)}"))
    seen: dict[str, int] = {}
    for n, char, repeat in zip(verdict.lines, chars, repeats):
        if char in seen and not (repeat and ends[n - 2] == char):
            verdict.repeated.append((n, f"rhyme '{char}' repeats line {seen[char]} (set {rhyme_set.letter})"))
        seen.setdefault(char, n)
    return verdict


@lru_cache(maxsize=8)
def rhyme_units(neighbours: tuple[tuple[str, ...], ...]) -> list[set[str]]:
    """The groups of parts one set may span beyond a single part: each neighbour group
    (a pair, or a family such as the entering parts), then every three parts that are
    pairwise neighbours (第六部+第十一部+第十三部)."""
    pairs = {frozenset(group) for group in neighbours if len(group) == 2}
    parts = sorted({p for pair in pairs for p in pair})
    triples = [set(t) for t in combinations(parts, 3)
               if all(frozenset(pair) in pairs for pair in combinations(t, 2))]
    return [set(group) for group in neighbours] + triples


def judge_sets(form: VerseForm, ends: list[str], part: str | None = None,
               cilin: Cilin | None = None,
               neighbours: list[tuple[str, ...]] | None = None) -> list[SetVerdict]:
    """Every rhyme set of a ci ``form`` judged over ``ends``; ``part`` holds set A. A tune
    with a second scheme (``rhyme_alt``) is judged by the row with fewer misses, the first
    on a tie. ``neighbours``: the groups of parts accepted (default: the tune table's)."""
    cilin = cilin or default_cilin()
    check_part(part, cilin)
    neighbours = neighbour_parts() if neighbours is None else neighbours
    rows = [form] + ([replace(form, rhyme_labels=form.rhyme_alt, rhyme_alt=())] if form.rhyme_alt else [])
    verdicts = [[judge_set(s, ends, cilin, neighbours, part if s.letter == "A" else None)
                 for s in rhyme_sets(row)] for row in rows]
    return min(verdicts, key=lambda row: sum(len(v.faults) for v in row))


def check_part(part: str | None, cilin: Cilin) -> None:
    if part is not None and part not in cilin.parts:
        raise LstmkitError(f"'{part}' is not a 词林正韵 part, as ci rhyme (choose from "
                           f"{' '.join(cilin.parts)})")


@lru_cache(maxsize=8)
def part_masks(vocab: Vocab, cilin: Cilin) -> dict[tuple[str, str], np.ndarray]:
    """(part, class) -> boolean mask (V,) of the vocabulary's characters there."""
    import numpy as np

    masks = {(p, c): np.zeros(len(vocab), dtype=bool)
             for p, part in cilin.parts.items() for c in part.chars}
    for index, token in enumerate(vocab.tokens):
        if len(token) == 1:
            for home in cilin.homes(token):
                masks[home][index] = True
    return masks


class CiRhymeMasks:
    """The rhyme side of ``FormConstraint`` for a ci: per row, the parts each set may
    still take (a dict letter -> set of parts, made by ``fresh``), narrowed as it writes."""

    def __init__(self, vocab: Vocab, form: VerseForm, part: str | None = None,
                 cilin: Cilin | None = None):
        self.cilin = cilin or default_cilin()
        check_part(part, self.cilin)
        self.vocab, self.form = vocab, form
        self.masks = part_masks(vocab, self.cilin)
        self.repeats = {line: kind for line, kind in repeated_lines(form).items() if line > 0}
        self.set_of = {line: (s.letter, classes) for s in rhyme_sets(form)
                       for line, classes in zip(s.lines, s.classes)}
        self.start: dict[str, set[str]] = {}
        for s in rhyme_sets(form):
            allowed = [part] if part and s.letter == "A" else list(self.cilin.parts)
            self.start[s.letter] = {p for p in allowed if self._supplies(p, s)}
            if not self.start[s.letter]:
                raise LstmkitError(f"the model knows too few characters of {part or 'any 词林正韵 part'} "
                                   f"for {form.name}'s rhyme set {s.letter} ({s.tone}, {len(s.lines)} lines)")

    def _supplies(self, part: str, rhyme_set: RhymeSet) -> bool:
        """Whether ``part`` has enough of the vocabulary's characters for every line of the set."""
        chars = self._mask({part}, "".join(rhyme_set.classes))
        return all(bool(self._mask({part}, k).any()) for k in rhyme_set.classes) and \
            int(chars.sum()) > len(rhyme_set.lines)

    def _mask(self, parts: set[str], classes: str) -> np.ndarray:
        import numpy as np

        mask = np.zeros(len(self.vocab), dtype=bool)
        for p in parts:
            for c in classes:
                if (p, c) in self.masks:
                    mask |= self.masks[(p, c)]
        return mask

    def forced(self, lines: list[str], line: int, pos: int) -> str | None:
        """The character ``line`` must write at ``pos`` when the tune repeats the line
        before's end there (叠句: the whole line; 叠韵: its last character), else None;
        ``lines``: the lines written so far."""
        kind = self.repeats.get(line)
        if not kind:
            return None
        before, length = lines[line - 1], self.form.lengths[line]
        if kind == "叠句" and length <= len(before):
            return before[len(before) - length + pos]
        return before[-1] if pos == length - 1 else None

    def fresh(self) -> dict[str, set[str]]:
        return {letter: set(parts) for letter, parts in self.start.items()}

    def mask(self, state: dict[str, set[str]], line: int) -> np.ndarray:
        """Mask (V,) of the characters that may end ``line`` (a rhyming line)."""
        letter, classes = self.set_of[line]
        return self._mask(state[letter], classes)

    def key(self, state: dict[str, set[str]], line: int) -> tuple[frozenset[str], str]:
        """What ``mask(state, line)`` depends on: the parts still possible and the classes."""
        letter, classes = self.set_of[line]
        return frozenset(state[letter]), classes

    def advance(self, state: dict[str, set[str]], line: int, char: str) -> None:
        """Narrow the parts of ``line``'s set to those holding ``char`` in the line's classes."""
        letter, classes = self.set_of[line]
        state[letter] = {p for p in state[letter] if _fits(self.cilin, char, classes, {p})}

    def explain(self, state: dict[str, set[str]], line: int, char: str) -> str:
        letter, classes = self.set_of[line]
        parts = "/".join(p for p in self.cilin.parts if p in state[letter])
        return f"'{char}' ({_describe(self.cilin, char)}) does not rhyme in set {letter} ({classes}, {parts})"
