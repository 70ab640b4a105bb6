"""Explain a poem's form: shape, 平仄 of every character, rhymes, and every violation.

``check_poem`` names the form from the shape (4 or 8 lines of 5 or 7 characters), marks
each character 平, 仄, 中 (either: it has readings of both) or ? (unknown), finds the
平水韵 group the rhyming lines share, picks the standard tone pattern that fits best,
and lists what breaks, by line and position. A ci rhymes by its tune's rhyme sets under
词林正韵 instead (``ci_rhyme.judge_sets``). The generator's constraints are these
same rules, so every generated poem passes.

Notes record what passes but deserves a word (``readings.py``): a first line that borrows
a neighbouring group's rhyme (首句借邻韵), a rhyme on a merged character's rare reading,
and characters whose classical tone is unknown (shown ?, never guessed).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..data.corpus import HAN
from ..errors import LstmkitError
from .ci_rhyme import judge_sets, repeated_lines
from .forms import TONE_MODES, VerseForm, form_for_shape, get_form, tone_patterns, tunes
from .parallel import Couplet
from .parallel import default_table as parallel_table
from .prosody import PING, Prosody, default_prosody
from .readings import NEIGHBOURS

SENTENCE_END = "。？！"
CLAUSE_END = "，；、"


@dataclass(frozen=True)
class Violation:
    rule: str  # shape, punctuation, character, rhyme, tone, repeat
    line: int | None  # 1-based, None for the whole poem
    position: int | None  # 1-based character position in the line
    message: str


@dataclass
class Line:
    text: str  # the characters, without the closing mark
    mark: str  # the closing punctuation, "" when missing
    tones: str  # one of 平 仄 中 ? per character


@dataclass
class CheckResult:
    form: str | None  # 五绝 七绝 五律 七律, or None when the shape fits none
    lines: list[Line]
    pattern: str | None = None  # the best-fitting tone pattern, e.g. 仄起首句不入韵
    rhyme_group: str | None = None  # a ci: each set's 词林正韵 part, A第十七部 B第十二部 ...
    rhyme_sets: list[dict] = field(default_factory=list)  # a ci: ci_rhyme.SetVerdict.to_dict()
    rhymes: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, char)
    violations: list[Violation] = field(default_factory=list)
    other_tunes: list[str] = field(default_factory=list)  # more 词牌 with the same shape
    couplets: list[Couplet] = field(default_factory=list)  # a 律诗's middle couplets (对仗)
    notes: list[str] = field(default_factory=list)  # licences, rare readings, unknown tones

    def broken(self, rule: str) -> bool:
        return any(v.rule == rule for v in self.violations)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {
            "form": self.form, "ok": self.ok, "pattern": self.pattern,
            "rhyme_group": self.rhyme_group, "rhyme_sets": self.rhyme_sets,
            "rhymes": [{"line": n, "char": c} for n, c in self.rhymes],
            "lines": [asdict(line) for line in self.lines],
            "violations": [asdict(v) for v in self.violations],
            "other_tunes": self.other_tunes, "notes": self.notes,
            "couplets": [c.to_dict() for c in self.couplets],
        }


HALF_WIDTH = str.maketrans({",": "，", ".": "。", "?": "？", "!": "！", ";": "；",
                            "\uff0e": "。", "\uff61": "。", "\uff64": "、"})
INVISIBLE = re.compile("[\\s\ufeff\u200b-\u200d\u2060]+")  # whitespace, BOM, zero-width


def split_lines(text: str) -> list[Line]:
    """Cut a poem into lines at ，。？！；、 (or their half-width forms , . ? ! ;),
    whitespace, byte-order marks and zero-width characters ignored."""
    text = INVISIBLE.sub("", text).translate(HALF_WIDTH)
    lines, current = [], ""
    for char in text:
        if char in SENTENCE_END + CLAUSE_END:
            lines.append(Line(current, char, ""))
            current = ""
        else:
            current += char
    if current:
        lines.append(Line(current, "", ""))
    return lines


_ACCEPTED = {"，": "，；", "。": "。？！", "、": "、，"}  # the marks a line may close with


def _shape(lines: list[Line], form: VerseForm | None, expected: VerseForm | None
           ) -> list[Violation]:
    problems = []
    target = expected or form
    if target is None:
        lengths = "/".join(str(len(line.text)) for line in lines)
        return [Violation("shape", None, None,
                          f"{len(lines)} lines of {lengths} characters fit no regulated form "
                          "(4 or 8 lines of 5 or 7 characters) and no 词牌 pattern "
                          "(check a ci against its tune with --tune)")]
    if len(lines) != target.lines:
        problems.append(Violation("shape", None, None,
                                  f"{target.name} has {target.lines} lines, this has {len(lines)}"))
    for number, (line, length, mark) in enumerate(zip(lines, target.lengths, target.marks), 1):
        if len(line.text) != length:
            problems.append(Violation("shape", number, None,
                                      f"line {number} has {len(line.text)} characters, "
                                      f"{target.name} needs {length}"))
        if not line.mark or line.mark not in _ACCEPTED[mark]:
            problems.append(Violation("punctuation", number, None,
                                      f"line {number} ends with {line.mark or 'nothing'}, "
                                      f"expected {mark}"))
        for position, char in enumerate(line.text, 1):
            if not HAN.match(char):
                problems.append(Violation("character", number, position,
                                          f"'{char}' is not a Han character"))
    return problems


def tunes_for_shape(lines: list[Line]) -> list[VerseForm]:
    """The 词牌 whose pattern has these line lengths: those whose closing marks also match
    first, then the tunes with more ci."""
    lengths = tuple(len(line.text) for line in lines)

    def marks_differ(form: VerseForm) -> int:
        return sum(not line.mark or line.mark not in _ACCEPTED[mark]
                   for line, mark in zip(lines, form.marks))

    found = [t for t in tunes().values() if t.form.lengths == lengths]
    return [t.form for t in sorted(found, key=lambda t: (marks_differ(t.form), -t.ci))]


def rhyme_groups(prosody: Prosody, tone: str) -> list[str]:
    """The 平水韵 groups of one tone class (平 or 仄), in table order."""
    return [name for name, g in prosody.groups.items() if g.pingze == tone]


def _best_group(ends: list[str], prosody: Prosody, candidates: list[str]) -> str | None:
    """The candidate group holding the most line ends (the first in table order on a tie)."""
    allowed = set(candidates)
    counts = Counter(g for char in ends for g in set(prosody.groups_of(char)) if g in allowed)
    if not counts:
        return None
    dominant = Counter(g for char in ends for g in set(prosody.read(char).rhyme_groups))
    order = {name: i for i, name in enumerate(candidates)}
    return min(counts, key=lambda g: (-counts[g], -dominant[g], order[g]))


def _borrowed_group(char: str, group: str, prosody: Prosody) -> str | None:
    """The neighbouring group of ``group`` that a level-tone ``char`` rhymes in (首句借邻韵)."""
    if not prosody.can_be(char, PING):
        return None
    return next((g for g in NEIGHBOURS.get(group, ()) if prosody.rhymes_in(char, g, dominant=True)), None)


def _unknown_notes(lines: list[Line]) -> list[str]:
    """One note per character whose classical tone is unknown (marked ?)."""
    found = {}
    for number, line in enumerate(lines, 1):
        for position, (char, mark) in enumerate(zip(line.text, line.tones), 1):
            if mark == "?":
                found.setdefault(char, f"line {number} pos {position}")
    return [f"uncertain: '{char}' ({where}) is not in the rhyme table and its classical tone is "
            "unknown (a modern first or second tone may hide an entering tone); its tone and "
            "rhyme are not judged"
            for char, where in found.items()]


def check_poem(text: str, tones: str = "strict", form: str | VerseForm | None = None,
               rhyme: str | None = None, tune: str | None = None,
               prosody: Prosody | None = None) -> CheckResult:
    """Check ``text`` against a form: the one its shape suggests, ``form``, or a ci ``tune``.

    ``tones`` is strict (regulated verse: one standard pattern at the held positions),
    loose (rhyme only) or off (shape only); ``rhyme`` demands one 平水韵 group (for a ci:
    the 词林正韵 part of rhyme set A).
    """
    if tones not in TONE_MODES:
        raise LstmkitError(f"tones must be one of {', '.join(TONE_MODES)} (got '{tones}')")
    prosody = prosody or default_prosody()
    lines = split_lines(text)
    if not lines:
        raise LstmkitError("the poem is empty")
    for line in lines:
        line.tones = "".join(prosody.read(c).mark if HAN.match(c) else "-" for c in line.text)
    shape_form = form_for_shape(len(lines), len(lines[0].text)) if all(
        len(line.text) == len(lines[0].text) for line in lines) else None
    if isinstance(form, VerseForm):
        expected = form
    else:
        expected = get_form(form, tune) if (form or tune) else None
    other_tunes: list[str] = []
    if expected is None and shape_form is None:
        # No regulated shape: a ci whose line lengths follow a tune is read as that tune
        # (matching closing marks first, then the tune with most ci).
        matches = tunes_for_shape(lines)
        if matches:
            expected, other_tunes = matches[0], [t.name for t in matches[1:]]
    verse = expected or shape_form
    candidates = rhyme_groups(prosody, verse.rhyme_tone if verse else PING)
    if rhyme is not None and rhyme not in candidates and (verse is None or verse.regulated):
        kind = "level-tone (平)" if (not verse or verse.rhyme_tone == PING) else "oblique-tone (仄)"
        raise LstmkitError(f"'{rhyme}' is not a {kind} 平水韵 group")
    result = CheckResult(form=verse.name if verse else None, lines=lines,
                         other_tunes=other_tunes, notes=_unknown_notes(lines))
    result.violations.extend(_shape(lines, shape_form, expected))
    if result.violations or verse is None:
        return result
    if verse.regulated:
        result.couplets = parallel_table().couplets([line.text for line in lines])

    seen: dict[str, int] = {}
    by_design = {} if verse.regulated else repeated_lines(verse)  # a ci's 叠句 (如梦令 争渡，争渡)
    for number, line in enumerate(lines, 1):
        if line.text in seen and not (by_design.get(number - 1) and seen[line.text] == number - 1):
            result.violations.append(Violation("repeat", number, None,
                                               f"line {number} repeats line {seen[line.text]}"))
        seen.setdefault(line.text, number)
    if tones == "off":
        return result
    if not verse.regulated:
        return _ci_rhymes(result, verse, rhyme)

    last = [line.text[-1] for line in lines]
    always = [i for i in range(verse.lines) if verse.rhymes(i)]
    group = _best_group([last[i] for i in always], prosody, [rhyme] if rhyme else candidates)
    result.rhyme_group = group
    first_rhymes = (verse.regulated and group is not None
                    and prosody.rhymes_in(last[0], group))
    borrowed = (verse.regulated and group is not None and not first_rhymes
                and _borrowed_group(last[0], group, prosody))
    used: dict[str, int] = {}
    for i in sorted(set(always) | ({0} if first_rhymes else set())):
        char = last[i]
        result.rhymes.append((i + 1, char))
        unknown = prosody.read(char).mark == "?"  # noted as uncertain, not judged
        if (group is None or not prosody.rhymes_in(char, group)) and not unknown:
            groups = "/".join(prosody.groups_of(char)) or "no group"
            kind = "a level-tone group" if verse.rhyme_tone == PING else "an oblique-tone group"
            result.violations.append(Violation(
                "rhyme", i + 1, verse.lengths[i],
                f"'{char}' ({groups}) does not rhyme in {group or kind}"))
        elif char in used:
            result.violations.append(Violation(
                "rhyme", i + 1, verse.lengths[i],
                f"重韵: rhyme '{char}' repeats line {used[char]}"))
        elif (minor := prosody.merged.minor(char, group)) is not None:
            result.notes.append(minor.note())
        used.setdefault(char, i + 1)
    licence = (f"首句借邻韵: line 1 ends in '{last[0]}' of {borrowed}, a neighbour of {group}: "
               "accepted as the first line's licence" if borrowed else None)
    if tones == "loose" or not verse.regulated:
        if licence:
            result.notes.append(licence)
        return result

    # Patterns whose first line fits: a rhyming first line may not be read as 仄, and so on.
    first_can_be_ze = prosody.can_be(last[0], "仄") or prosody.read(last[0]).mark == "?"
    best: tuple[int, bool, str, list[Violation]] | None = None
    for pattern in tone_patterns(verse):
        if pattern.first_rhymes and not (first_rhymes or borrowed):
            continue
        if not pattern.first_rhymes and first_rhymes and not first_can_be_ze:
            continue
        misses = []
        for i, (line, wanted) in enumerate(zip(lines, pattern.lines)):
            for pos in verse.held_positions():
                if pos == verse.chars - 1 and (verse.rhymes(i) or (i == 0 and pattern.first_rhymes)):
                    continue  # the pattern's rhyme positions are judged by the rhyme rule
                char = line.text[pos]
                if prosody.read(char).mark != "?" and not prosody.can_be(char, wanted[pos]):
                    misses.append(Violation(
                        "tone", i + 1, pos + 1,
                        f"'{char}' is {prosody.read(char).mark}, {pattern.name} needs "
                        f"{wanted[pos]} at line {i + 1} position {pos + 1}"))
        uses_licence = bool(borrowed and pattern.first_rhymes)
        if best is None or (len(misses), uses_licence) < best[:2]:
            best = (len(misses), uses_licence, pattern.name, misses)
    if best is not None:
        result.pattern = best[2]
        result.violations.extend(best[3])
        if best[1]:
            result.rhymes.insert(0, (1, last[0]))
            result.notes.append(licence)
    return result


def _ci_rhymes(result: CheckResult, verse: VerseForm, part: str | None) -> CheckResult:
    """A ci's rhymes judged by its tune's rhyme sets (``ci_rhyme.py``), not 平水韵 groups."""
    verdicts = judge_sets(verse, [line.text[-1] for line in result.lines], part)
    result.rhyme_sets = [v.to_dict() for v in verdicts]
    result.rhyme_group = " ".join(f"{v.letter}{v.part or '?'}" for v in verdicts) or None
    result.rhymes = sorted((n, c) for v in verdicts for n, c in zip(v.lines, v.chars))
    for v in verdicts:
        if v.part and "+" in v.part:  # Song usage, not 词林正韵's norm: say so
            result.notes.append(f"邻部通押: set {v.letter} (lines {', '.join(map(str, v.lines))}) "
                                f"rhymes across {v.part}, as Song ci sometimes do")
    misses = sorted((n, message) for v in verdicts for n, message in v.faults)
    result.violations.extend(Violation("rhyme", n, verse.lengths[n - 1], message) for n, message in misses)
    return result


def format_report(result: CheckResult) -> str:
    """A human-readable explanation of ``check_poem``'s result."""
    out = [f"form: {result.form or 'none of 五绝 七绝 五律 七律, and no 词牌 pattern'}"
           + (f" (the same shape as {' '.join(result.other_tunes[:5])})" if result.other_tunes else "")
           + (f", pattern {result.pattern}" if result.pattern else "")
           + (f", rhyme group {result.rhyme_group}" if result.rhyme_group else "")]
    rhyming = {line: "" for line, _ in result.rhymes}
    rhyming.update({n: s["set"] for s in result.rhyme_sets for n in s["lines"]})
    for number, line in enumerate(result.lines, 1):
        mark = f"  韵{rhyming[number]}" if number in rhyming else ""
        out.append(f"{number:>2}  {line.text}{line.mark}\n    {line.tones}{mark}")
    for c in result.couplets:
        verdict = "parallel (对仗)" if c.parallel else "not parallel"
        out.append(f"{c.name} (lines {c.lines[0]}-{c.lines[1]}): {verdict}, score {c.score:.2f}")
    if result.ok:
        out.append("no violations")
    else:
        out.append(f"{len(result.violations)} violation(s):")
        for v in result.violations:
            where = f"line {v.line}" + (f" pos {v.position}" if v.position else "") if v.line else "poem"
            out.append(f"  [{v.rule}] {where}: {v.message}")
    out += [f"note: {note}" for note in result.notes]
    return "\n".join(out)
