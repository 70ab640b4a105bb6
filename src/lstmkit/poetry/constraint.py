"""Constrained decoding of regulated verse: a logit mask that only allows the form.

``FormConstraint`` is a ``sample.LogitsHook``: at each step it keeps, for every row, a
small state (line, position, tone patterns still possible, rhyme groups still possible,
rhyme characters used) and masks every token that would break the form. Because it only
masks logits, temperature, top-k and top-p sampling all obey it. The rules are those of
``check.check_poem``, so a poem that completes under the mask passes the checker.

Further ``rules`` (``poetry.rules.Rule``: repetition, parallel couplets) add to the logits
of the characters the form allows, and may ban some (-inf). A row whose mask empties (a dead
end: no known character fits) is sent to ``<eos>`` and reported as incomplete;
``poetry.request.write_poems`` draws more rows within a fixed budget.

A ci rhymes by its tune's rhyme sets under 词林正韵: ``ci_rhyme.CiRhymeMasks`` keeps, per row,
the parts each set may still take (``_Row.sets``) in place of the 平水韵 groups, and where
the tune repeats the line before's end (叠韵, 叠句) forces the repeated characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..data.corpus import HAN
from ..data.vocab import Vocab
from ..errors import LstmkitError
from .check import rhyme_groups
from .ci_rhyme import CiRhymeMasks
from .forms import TONE_MODES, TonePattern, VerseForm, tone_patterns
from .maskbank import MaskBank
from .prosody import PING, ZE, Prosody, default_prosody
from .rules import BiasBatch, Entries, Rule
from .vocab_masks import vocab_masks

BATCH_ROWS = 32  # rows from which rules with batch_bias score the whole batch at once


@dataclass
class _Row:
    """Where one row stands in the form."""

    patterns: set[int]  # indices of tone patterns still possible (strict mode)
    groups: set[str]  # rhyme groups still possible
    line: int = 0
    pos: int = 0
    text: str = ""  # the current line's characters
    lines: list[str] = field(default_factory=list)
    rhymes: set[str] = field(default_factory=set)
    sets: dict[str, set[str]] = field(default_factory=dict)  # a ci: set letter -> parts still possible
    consumed: int = 0  # generated tokens already folded into this state
    dead: bool = False


class FormConstraint:
    """Masks logits so that every row writes ``form`` (see the module docstring)."""

    def __init__(self, vocab: Vocab, form: VerseForm, tones: str = "strict",
                 rhyme: str | None = None, acrostic: str | None = None,
                 start: str = "", prosody: Prosody | None = None,
                 rules: Sequence[Rule] = (), fixed: dict[tuple[int, int], str] | None = None):
        """``fixed``: (0-based line, position) -> the character that must stand there (a
        template's or a locked line's); an ``acrostic`` fixes each line's first character."""
        if tones not in TONE_MODES:
            raise LstmkitError(f"tones must be one of {', '.join(TONE_MODES)} (got '{tones}')")
        self.vocab, self.form, self.tones = vocab, form, tones
        self.rules = tuple(rules)
        # Rules that score a whole batch at once (``batch_bias``), and those asked row by row.
        self.batch_rules = tuple(r for r in self.rules if hasattr(r, "batch_bias"))
        self.row_rules = tuple(r for r in self.rules if not hasattr(r, "batch_bias"))
        self.prosody = prosody or default_prosody()
        self.patterns: list[TonePattern] = tone_patterns(form)
        self.ci = None if form.regulated else CiRhymeMasks(vocab, form, rhyme)
        candidates = rhyme_groups(self.prosody, form.rhyme_tone)
        if self.ci is not None:
            rhyme = None  # the part of set A, held by self.ci
        elif rhyme is not None and rhyme not in candidates:
            raise LstmkitError(f"'{rhyme}' is not a {form.rhyme_tone}-tone 平水韵 group, as "
                               f"{form.name} rhymes (choose from {' '.join(candidates)})")
        self.candidates = [rhyme] if rhyme else candidates
        if acrostic is not None:
            if len(acrostic) != form.lines:
                raise LstmkitError(f"an acrostic for {form.name} needs {form.lines} characters, "
                                   f"got {len(acrostic)}")
            missing = [c for c in acrostic if c not in vocab or not HAN.match(c)]
            if missing:
                raise LstmkitError("acrostic character(s) the model cannot write: "
                                   + " ".join(dict.fromkeys(missing)))
        self.acrostic = acrostic
        self.fixed = dict(fixed or {})
        for line, char in enumerate(acrostic or ""):
            if self.fixed.setdefault((line, 0), char) != char:
                raise LstmkitError(f"line {line + 1} cannot open with both the acrostic's '{char}' "
                                   f"and the fixed '{self.fixed[(line, 0)]}'")
        masks = vocab_masks(vocab, self.prosody)
        absent = sorted(set(form.marks) - set(masks.mark_id))
        if absent:
            raise LstmkitError(f"the model's vocabulary lacks {' '.join(absent)}: it cannot "
                               f"write {form.name}")
        self.han, self.tone, self.known, self.mark_id = masks.han, masks.tone, masks.known, masks.mark_id
        self.bank = MaskBank(len(vocab))
        self.group = {g: masks.group[g] for g in self.candidates}
        if self.ci is None:
            self._check_rhyme_supply()
        self._check_fixed()
        self.start = start
        self.opening = self._fresh()
        for char in start:
            self._advance(self.opening, char, opening=True)
        self.rows: list[_Row] = []

    def _check_fixed(self) -> None:
        form = self.form
        outside = [(line, pos) for line, pos in self.fixed
                   if not (0 <= line < form.lines and 0 <= pos < form.lengths[line])]
        if outside:
            line, pos = outside[0]
            raise LstmkitError(f"a fixed character at line {line + 1} position {pos + 1} lies "
                               f"outside {form.name}")
        missing = [c for c in self.fixed.values() if c not in self.vocab or not HAN.match(c)]
        if missing:
            raise LstmkitError("fixed character(s) the model cannot write: " + " ".join(dict.fromkeys(missing)))
        if self.ci is not None or self.tones == "off":
            return
        rhymes = self._group_mask(set(self.candidates))
        for (line, pos), char in sorted(self.fixed.items()):
            if pos == form.lengths[line] - 1 and form.rhymes(line) and line > 0 \
                    and not bool(rhymes[self.vocab.index[char]]):
                raise LstmkitError(f"line {line + 1} ends in a rhyme of {form.name} ({form.rhyme_tone}, "
                                   f"{'/'.join(self.candidates) if len(self.candidates) < 4 else '平水韵'}); "
                                   f"the fixed '{char}' is not one")
        held = [(where, char) for where, char in sorted(self.fixed.items())
                if self.tones == "strict" and where[1] in form.held_positions()
                and where[1] < form.lengths[where[0]] - 1]
        if held and not any(all(pattern.lines[line][pos] in self.prosody.read(char).tones
                                for (line, pos), char in held) for pattern in self.patterns):
            shown = ", ".join(f"'{char}' ({self.prosody.read(char).mark}) at line {line + 1} "
                              f"position {pos + 1}" for (line, pos), char in held)
            raise LstmkitError(f"the fixed characters fit no standard tone pattern of {form.name}: "
                               f"{shown} (try --tones loose)")

    def _check_rhyme_supply(self) -> None:
        needed = sum(self.form.rhymes(i) for i in range(self.form.lines)) + 1
        usable = [g for g in self.candidates if int(self.group[g].sum()) >= needed]
        if not usable:
            groups = " ".join(self.candidates) if len(self.candidates) < 4 else "any group"
            raise LstmkitError(f"the model knows fewer than {needed} characters of {groups}: "
                               f"no {self.form.name} can rhyme there")
        self.candidates = usable

    def _fresh(self) -> _Row:
        strict = self.tones == "strict"
        return _Row(patterns=set(range(len(self.patterns))) if strict else set(),
                    groups=set(self.candidates), sets=self.ci.fresh() if self.ci else {})

    # --- the rules --------------------------------------------------------------------
    def _is_rhyme_position(self, row: _Row) -> bool:
        return row.pos == self.form.lengths[row.line] - 1 and self.form.rhymes(row.line)

    def _choice(self, row: _Row) -> tuple[int, set[int]]:
        """What ``row`` may write next: a mask's number in ``self.bank`` and the token ids
        it bans besides (rhymes already used, the end that would repeat an earlier line)."""
        form, bank, index = self.form, self.bank, self.vocab.index
        if row.dead or row.line == form.lines:
            return bank.single(self.vocab.eos_id), set()
        if row.pos == form.lengths[row.line]:
            return bank.single(self.mark_id[form.punctuation(row.line)]), set()
        forced = self._forced(row)
        if forced is not None:  # 叠韵/叠句: the repeat, even of a used rhyme or a whole line
            return bank.single(index.get(forced)), set()
        last = row.pos == form.lengths[row.line] - 1
        bans: set[int] = set()
        if self.tones != "off" and self._is_rhyme_position(row):
            if self.ci:
                parts, classes = self.ci.key(row.sets, row.line)
                number = bank.number(("ci", parts, classes),
                                     lambda: self.han & self.ci.mask(row.sets, row.line))
            else:
                groups = frozenset(row.groups)
                number = bank.number(("groups", groups), lambda: self.han & self._group_mask(groups))
            bans.update(index[char] for char in row.rhymes)
        elif row.patterns and row.pos in form.held_positions():
            if last and row.line == 0:
                rhymes = {self.patterns[p].first_rhymes for p in row.patterns}
                key = ("first", frozenset(rhymes), frozenset(row.groups))
                number = bank.number(key, lambda: self.han & self._first_line_end(row))
            else:
                wanted = {self.patterns[p].lines[row.line][row.pos] for p in row.patterns}
                tone = wanted.pop() if len(wanted) == 1 else None
                number = bank.number(("tone", tone), lambda: self.han & (
                    self.known if tone is None else self.tone[tone]))
        else:
            number = bank.number(("han",), lambda: self.han.copy())
        if last:  # no line may repeat an earlier one
            bans.update(index[earlier[-1]] for earlier in row.lines
                        if earlier[:-1] == row.text and earlier[-1] in index)
        fixed = self.fixed.get((row.line, row.pos))
        if fixed is not None:  # only the fixed character (acrostic, template), if it fits
            token = index[fixed]
            fits = token in bank.members(number) and token not in bans
            return bank.single(token if fits else None), set()
        return number, bans

    def _permits(self, row: _Row, token: int) -> bool:
        number, bans = self._choice(row)
        return token in self.bank.members(number) and token not in bans

    def _forced(self, row: _Row) -> str | None:
        """The character a ci's 叠韵/叠句 line must write next, or None."""
        return self.ci.forced(row.lines, row.line, row.pos) if self.ci else None

    def _group_mask(self, groups: set[str]) -> np.ndarray:
        mask = np.zeros(len(self.vocab), dtype=bool)
        for g in groups:
            mask |= self.group[g]
        return mask

    def _first_line_end(self, row: _Row) -> np.ndarray:
        """Strict mode, line 1's last character: a rhyme, or 仄 for a non-rhyming start."""
        mask = np.zeros(len(self.vocab), dtype=bool)
        if any(self.patterns[p].first_rhymes for p in row.patterns):
            mask |= self._group_mask(row.groups)
        if any(not self.patterns[p].first_rhymes for p in row.patterns):
            mask |= self.tone[ZE]
        return mask

    def _advance(self, row: _Row, token: str, opening: bool = False) -> None:
        """Fold one written token into ``row``; an opening that breaks the form raises."""
        if opening:
            index = self.vocab.index.get(token)
            if index is None or not self._permits(row, index):
                raise LstmkitError(f"the opening breaks {self.form.name}: {self._why(row, token)}")
        form = self.form
        if row.dead or row.line == form.lines:
            return
        if row.pos == form.lengths[row.line]:  # the line's closing mark
            row.lines.append(row.text)
            row.line, row.pos, row.text = row.line + 1, 0, ""
            return
        reading = self.prosody.read(token)
        last = row.pos == form.lengths[row.line] - 1
        if self.tones != "off" and self._is_rhyme_position(row):
            if self.ci:
                self.ci.advance(row.sets, row.line, token)
            row.groups &= set(reading.rhyme_groups)
            row.rhymes.add(token)
        elif row.patterns and row.pos in form.held_positions():
            if last and row.line == 0:
                rhymes = bool(row.groups & set(reading.rhyme_groups)) and PING in reading.tones
                row.patterns = {p for p in row.patterns
                                if (rhymes if self.patterns[p].first_rhymes else ZE in reading.tones)}
                if rhymes and any(self.patterns[p].first_rhymes for p in row.patterns):
                    row.groups &= set(reading.rhyme_groups)
            else:
                row.patterns = {p for p in row.patterns
                                if self.patterns[p].lines[row.line][row.pos] in reading.tones}
        if last and row.line == 0:
            row.rhymes.add(token)  # it may count as a rhyme: never reuse it
        row.text += token
        row.pos += 1

    def _why(self, row: _Row, token: str) -> str:
        form = self.form
        where = f"line {row.line + 1}"
        if row.line == form.lines:
            return f"'{token}' comes after the last line of {form.name}"
        if row.pos == form.lengths[row.line]:
            return (f"{where} needs {form.punctuation(row.line)} after {form.lengths[row.line]} characters, "
                    f"got '{token}'")
        if not HAN.match(token):
            return f"'{token}' at {where} position {row.pos + 1} is not a Han character"
        if token not in self.vocab:
            return f"'{token}' is not in the model's vocabulary"
        where += f" position {row.pos + 1}"
        forced = self._forced(row)
        if forced is not None and token != forced:
            return f"{where} must repeat '{forced}' of line {row.line} (叠韵/叠句 of {form.name}), got '{token}'"
        fixed = self.fixed.get((row.line, row.pos))
        if fixed is not None and token != fixed:
            what = "the acrostic's" if self.acrostic and row.pos == 0 else "the fixed"
            return f"{where} must be {what} '{fixed}', got '{token}'"
        if self._is_rhyme_position(row) and self.ci:
            return f"{self.ci.explain(row.sets, row.line, token)} at {where}"
        if self._is_rhyme_position(row):
            return f"'{token}' at {where} does not rhyme in {'/'.join(sorted(row.groups))}"
        if row.pos == form.lengths[row.line] - 1 and row.text + token in row.lines:
            return f"{where} repeats an earlier line"
        mark = self.prosody.read(token).mark
        return f"'{token}' ({mark}) at {where} fits no standard tone pattern of {form.name}"

    # --- the hook ---------------------------------------------------------------------
    def __call__(self, generated: list[list[int]]) -> np.ndarray:
        """The next step's additive bias (N, V) float32 for the rows ``generated`` so far:
        0 where the form allows a character, -inf where not, plus the rules' costs."""
        if not self.rows:
            self.rows = [replace(self.opening, patterns=set(self.opening.patterns),
                                 groups=set(self.opening.groups), lines=list(self.opening.lines),
                                 rhymes=set(self.opening.rhymes),
                                 sets={k: set(v) for k, v in self.opening.sets.items()}) for _ in generated]
        numbers, banned_rows, banned_cols, batch = [], [], [], BiasBatch()
        bans_of, biases_of, speaking = [], [], []
        # Batched rules pay a fixed cost per step: for a few rows, asking row by row is cheaper.
        batched = self.batch_rules if len(self.rows) >= BATCH_ROWS else ()
        row_rules = self.row_rules if batched else self.rules
        for i, (row, ids) in enumerate(zip(self.rows, generated)):
            for token_id in ids[row.consumed:]:
                self._advance(row, self.vocab.tokens[token_id])
            row.consumed = len(ids)
            number, bans = self._choice(row)
            speaks = self._speaks(row)
            found = (rule.bias(row.lines, row.text, self.form.lengths[row.line])
                     for rule in row_rules) if speaks else ()
            biases = [bias for bias in found if bias is not None]
            for bias in biases:
                bans |= batch.bans(bias)
            if speaks and batched:
                speaking.append(i)
            numbers.append(number)
            bans_of.append(bans)
            biases_of.append(biases)
        entries = self._batched(speaking) if speaking else None
        for i, row in enumerate(self.rows):
            number, bans = numbers[i], bans_of[i]
            allowed = self.bank.members(number)
            if (len(allowed) <= len(bans) + (entries.ban_counts[i] if entries else 0)
                    and allowed <= (bans | entries.bans(i) if entries else bans)):  # a dead end
                row.dead = True
                (number, bans), biases_of[i] = self._choice(row), []
                numbers[i] = number
            banned_rows += [i] * len(bans)
            banned_cols += bans
            for bias in biases_of[i]:
                batch.add(i, bias)
        mask = self.bank.gather(numbers)  # (N, V): 0 allowed, -inf not
        if banned_rows:
            mask[banned_rows, banned_cols] = float("-inf")
        if entries:
            entries.apply(mask, batch, [not row.dead for row in self.rows])
        return batch.apply(mask)

    def _speaks(self, row: _Row) -> bool:
        """Whether the rules speak of ``row``'s next character: not when the next token is
        a mark, a fixed character, a repeat or ``<eos>``."""
        form = self.form
        return not (not self.rules or row.dead or row.line == form.lines
                    or row.pos == form.lengths[row.line] or (row.line, row.pos) in self.fixed
                    or self._forced(row) is not None)

    def _batched(self, speaking: list[int]) -> Entries:
        """What the batched rules give the rows ``speaking`` (at least one rule)."""
        states = [(self.rows[i].lines, self.rows[i].text, self.form.lengths[self.rows[i].line])
                  for i in speaking]
        parts = [rule.batch_bias(states) for rule in self.batch_rules]
        index = np.asarray(speaking, dtype=np.intp)
        rows, tokens, values = (np.concatenate(column) for column in zip(*parts))
        return Entries(index[rows], tokens, values, size=len(self.rows))

    def complete(self, index: int) -> bool:
        row = self.rows[index]
        return not row.dead and row.line == self.form.lines

    def max_tokens(self) -> int:
        """Tokens a whole poem takes after the opening, <eos> included."""
        total = sum(self.form.lengths) + self.form.lines + 1
        return total - len(self.start)
