"""Fixed characters: a template or locked lines, read against a form.

A template is the poem with blanks: ``春风＿＿＿＿＿，＿＿＿＿＿＿。`` fixes 春 and 风 at the
opening of a 七绝's first line (``＿``, ``_``, ``□``, ``〇``, ``○``, ``*`` and ``＊`` stand for a
character to write; the lines may end in any of ，。？！；、 or their half-width forms, or a
newline). Locked lines are
one entry per line of the form, the line's characters or None, as the web page sends them
when a reader keeps the lines they like and asks for the rest again. Both come out as
``fixed``: (0-based line, position) -> character, which ``FormConstraint`` holds; an
acrostic is the same thing for each line's first character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import LstmkitError
from .forms import VerseForm

BLANKS = "＿_□〇○*＊"
ENDS = "，。？！；、,.!;\n"
MAX_TEMPLATE = 400  # characters: the longest ci is about 240 with its marks


def parse_template(template: str, form: VerseForm) -> dict[tuple[int, int], str]:
    """The characters ``template`` fixes in ``form``; a template of another shape raises,
    naming the first line that does not fit."""
    if len(template) > MAX_TEMPLATE:
        raise LstmkitError(f"the template is {len(template)} characters long; at most {MAX_TEMPLATE}")
    text = re.sub(r"[ \t\r\u3000]+", "", template)
    lines = [line for line in re.split(f"[{re.escape(ENDS)}]+", text) if line]
    if len(lines) != form.lines:
        raise LstmkitError(f"the template has {len(lines)} lines; {form.name} has {form.lines} "
                           f"({' '.join(str(n) for n in form.lengths)} characters)")
    fixed = {}
    for number, (line, length) in enumerate(zip(lines, form.lengths), 1):
        if len(line) != length:
            raise LstmkitError(f"template line {number} has {len(line)} characters; {form.name} "
                               f"needs {length} there")
        for pos, char in enumerate(line):
            if char not in BLANKS:
                fixed[(number - 1, pos)] = char
    return fixed


def locked_lines(lines: Sequence[str | None], form: VerseForm) -> dict[tuple[int, int], str]:
    """The characters locked ``lines`` fix: one entry per line of ``form``, its text (marks
    and spaces dropped) or None/empty for a line to write."""
    if len(lines) != form.lines:
        raise LstmkitError(f"got {len(lines)} lines to lock or leave; {form.name} has {form.lines}")
    fixed = {}
    for number, line in enumerate(lines, 1):
        text = re.sub(f"[\\s{re.escape(ENDS)}]", "", line or "")
        if not text:
            continue
        if len(text) != form.lengths[number - 1]:
            raise LstmkitError(f"locked line {number} has {len(text)} characters; {form.name} needs "
                               f"{form.lengths[number - 1]} there")
        fixed.update({(number - 1, pos): char for pos, char in enumerate(text)})
    return fixed
