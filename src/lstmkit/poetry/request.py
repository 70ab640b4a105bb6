"""A request for poems, as the CLI and the web API take it, and the poems it gets.

``PoemRequest.make`` holds the rules a front-end would otherwise repeat: a tune means a ci,
an acrostic without a form picks 七绝 (4 characters) or 七律 (8), a ci is written by the Song
ci model unless another is named. ``write_poems`` writes them (constrained when there is a
form, free otherwise; always under the repetition rules, and refined, with the couplet rules
and ``poetry.rank`` choosing) and ``poem_record`` is the JSON shape of one poem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..data.vocab import Vocab
from ..decoding import Decoder, Sample, poem_lines
from ..errors import LstmkitError
from ..sample_config import SampleConfig
from ..sample_numpy import generator_for
from ..script import to_script
from .check import CheckResult, check_poem
from .constraint import FormConstraint
from .forms import VerseForm, get_form
from .parallel import ParallelRule
from .rank import BackwardScorer, rank
from .repetition import RepetitionRule
from .rules import Rule, RulesHook
from .template import locked_lines, parse_template


@dataclass(frozen=True)
class PoemRequest:
    form: VerseForm | None = None  # None: whole poems of any shape the model writes
    tones: str = "strict"
    rhyme: str | None = None
    acrostic: str | None = None
    start: str = ""
    candidates: int = 4  # rows drawn per poem wanted; the best are kept
    rounds: int = 4  # batches at most before giving up
    refine: bool = True  # repeats cost, couplets pair, poetry.rank chooses (stutters never)
    fixed: tuple[tuple[tuple[int, int], str], ...] = ()  # ((line, pos), char): template, locked lines
    title: str = ""  # a conditioned model writes to this title (data.condition)
    poet: str = ""  # ... in this poet's manner

    @classmethod
    def make(cls, form: str | None = None, tune: str | None = None, tones: str = "strict",
             rhyme: str | None = None, acrostic: str | None = None, start: str = "",
             candidates: int = 4, refine: bool = True, template: str | None = None,
             lines: Sequence[str | None] | None = None, title: str = "", poet: str = "") -> PoemRequest:
        """A request from a user's options (see the module docstring); whitespace in
        ``start`` is dropped. ``template`` (``春风＿＿＿＿＿，...``) and locked ``lines`` (one
        entry per line, None to write) fix characters (``poetry.template``)."""
        if tune and form and form != "ci":
            raise LstmkitError(f"--tune names a 词牌; it does not go with --form {form} (drop --form, "
                               "or use --form ci)")
        if tune and not form:
            form = "ci"
        if not (form or acrostic or tune):
            for asked, what in ((rhyme, "--rhyme"), (tones != "strict", f"--tones {tones}")):
                if asked:
                    raise LstmkitError(f"{what} needs a form (--form, --tune or --acrostic)")
        if acrostic and not form:
            if len(acrostic) not in (4, 8):
                raise LstmkitError(f"an acrostic of {len(acrostic)} characters fits no form "
                                   "(4 for a 绝句, 8 for a 律诗)")
            form = "七绝" if len(acrostic) == 4 else "七律"
        if candidates < 1:
            raise LstmkitError(f"--candidates must be at least 1 (got {candidates})")
        verse = get_form(form, tune) if form else None
        fixed: dict[tuple[int, int], str] = {}
        if (template or lines) and verse is None:
            raise LstmkitError("a template or locked lines need a form (--form or --tune)")
        if template:
            fixed.update(parse_template(template, verse))
        for where, char in (locked_lines(lines, verse) if lines else {}).items():
            if fixed.setdefault(where, char) != char:
                raise LstmkitError(f"locked line {where[0] + 1} disagrees with the template at "
                                   f"position {where[1] + 1}")
        return cls(verse, tones, rhyme, acrostic or None, "".join(start.split()), candidates,
                   refine=refine, fixed=tuple(sorted(fixed.items())), title=title.strip(),
                   poet=poet.strip())

    def rows(self, n: int) -> int:
        """The rows a call for ``n`` poems writes at once: ``candidates`` per poem of a
        form, one per free poem."""
        return n * self.candidates if self.form is not None else n

    def steered(self, config: SampleConfig) -> SampleConfig:
        """``config``, with no guidance unless the user asked for a title or poet (a ci's
        tune, given on its own, is the model's usual prompt, not a topic to steer by)."""
        return config if (self.title or self.poet) else replace(config, guidance=0.0)

    def about(self, generator: Decoder) -> dict[str, str]:
        """The title and poet a conditioned model is given: the ones asked for; a ci with
        no title asked is written to its tune's name, as the ci model was trained."""
        title = self.title
        if (not title and generator.conditioning.active and self.form is not None
                and self.form.alias == "ci" and not generator.vocab.unknown(self.form.name)):
            title = self.form.name
        return {"title": title, "poet": self.poet}

    @property
    def model_name(self) -> str:
        """The bundled model that writes this request best: songci for a ci, else tang."""
        return "songci" if self.form is not None and self.form.alias == "ci" else "tang"

    def check(self, text: str) -> CheckResult:
        return check_poem(text, tones=self.tones, form=self.form, rhyme=self.rhyme)

    def constraint(self, vocab: Vocab, rules: Sequence[Rule] = ()) -> FormConstraint:
        """The mask that writes this request's form, opening and fixed characters (a form
        is needed); building it is also how what the request asks is validated."""
        return FormConstraint(vocab, self.form, self.tones, self.rhyme, self.acrostic, self.start,
                              rules=rules, fixed=dict(self.fixed))

    def rules(self, vocab: Vocab) -> list[Rule]:
        """The decoding rules beyond the form that this request writes under: stutters and
        runaway reuse are always banned; refined, reuse also costs and 律诗 couplets pair."""
        fixed = dict(self.fixed)
        fixed.update({(line, 0): char for line, char in enumerate(self.acrostic or "")})
        if not self.refine:
            return [RepetitionRule(vocab, self.form, penalty=0.0, fixed=fixed)]
        rules: list[Rule] = [RepetitionRule(vocab, self.form, fixed=fixed)]
        if self.form is not None and self.form.regulated and self.form.lines == 8:
            rules.append(ParallelRule(vocab, self.form))
        return rules


def poem_generator(loaded, name: str | None = None) -> Decoder:
    """A generator over a loaded language model (``tasks.lm.Loaded``) that can write poems:
    one trained on poems, character by character."""
    config = loaded.text_config
    if config.mode != "poems" or config.level != "char":
        raise LstmkitError(f"model '{name}' was trained on a {config.level}-level {config.mode}; "
                           "poems need a character-level poem model (use lstmkit write for this one)")
    if config.reverse:
        raise LstmkitError(f"model '{name}' reads poems right to left: it can rank candidates "
                           "(--backward) but not write")
    return generator_for(loaded)


# On a CPU a decoding pass of more rows than this is slower per row (the int8 matmuls fall
# out of cache: 93 poems/s for 64 七绝 at once, 62 for 1,000) and holds more memory, so a
# larger call is cut into passes of near-equal size. A GPU takes any number in one pass.
PASS_ROWS = 256
PART_SEED = 1_000_003  # the seed of a call's later passes: seed * PART_SEED + part


def passes(rows: int, device_type: str = "cpu") -> list[int]:
    """The sizes of the decoding passes that write ``rows`` candidate rows."""
    if device_type != "cpu" or rows <= PASS_ROWS:
        return [rows]
    count = -(-rows // PASS_ROWS)
    return [rows // count + (1 if part < rows % count else 0) for part in range(count)]


def write_poems(generator: Decoder, request: PoemRequest, n: int,
                config: SampleConfig = SampleConfig(),
                backward: BackwardScorer | None = None) -> list[Sample]:
    """``n`` distinct poems for ``request``, best first. With a form, each keeps it (and
    passes ``check_poem``), and the candidates are ranked by ``poetry.rank`` (with the
    ``backward`` model, when given) or, unrefined, by the forward model's probability alone;
    without a form, they are whole poems the model ended itself. On a CPU, more than
    ``PASS_ROWS`` candidate rows are written in several passes (``passes``)."""
    rules = request.rules(generator.vocab)
    config = request.steered(config)
    if request.form is None:
        hook = RulesHook(generator.vocab, rules, request.start)
        return generator.generate_finished(request.start, n, config, hook, **request.about(generator))
    kept: dict[str, Sample] = {}  # complete candidates by text; the checker sees only the best
    for round_ in range(request.rounds):
        seed = config.round_seed(round_)
        rows = max(1, n - len(kept)) * request.candidates
        for part, size in enumerate(passes(rows, generator.device_type)):
            constraint = request.constraint(generator.vocab, rules)
            part_seed = seed if part == 0 or seed is None else (seed * PART_SEED + part) % 2**64
            samples = generator.generate(
                request.start, size, replace(config, seed=part_seed, max_len=constraint.max_tokens()),
                hook=constraint, **request.about(generator))
            for index, sample in enumerate(samples):
                if constraint.complete(index):
                    kept.setdefault(sample.text, sample)
        if len(kept) >= n:
            chosen = _best_checked(kept, request, n, backward)
            if len(chosen) == n:
                return chosen
    raise LstmkitError(f"found only {len(kept)} of {n} {request.form.name} within the "
                       "search budget; relax --tones or --rhyme, or change the opening")


def _best_checked(kept: dict[str, Sample], request: PoemRequest, n: int,
                  backward: BackwardScorer | None) -> list[Sample]:
    """Up to ``n`` of the candidates ``kept``, best first, that pass the checker (the mask
    keeps the form, so every one should; one that does not is dropped from ``kept``).
    Ranked by ``poetry.rank``, or unrefined by the forward model's probability alone."""
    if request.refine:
        order = [c.sample for c in rank(list(kept.values()), request.form, backward)]
    else:
        order = sorted(kept.values(), key=lambda s: -s.logprob)
    chosen = []
    for sample in order:
        if not request.check(sample.text).ok:
            del kept[sample.text]
            continue
        chosen.append(sample)
        if len(chosen) == n:
            break
    return chosen


def sample_record(sample: Sample) -> dict:
    """The JSON shape of a written text."""
    return {"text": sample.text, "finished": sample.finished, "logprob": sample.logprob,
            "tokens": sample.tokens}


def poem_record(sample: Sample, request: PoemRequest, script: str = "simplified") -> dict:
    """The JSON shape of a poem: its text and lines (in ``script``), and with a form, what
    the checker found (form, tone pattern, rhyme group)."""
    text = to_script(sample.text, script)
    record = {"text": text, "lines": poem_lines(text), "logprob": sample.logprob,
              "tokens": sample.tokens}
    if request.form is not None:
        verdict = request.check(sample.text)
        record.update(form=verdict.form, pattern=verdict.pattern, rhyme_group=verdict.rhyme_group)
    return record
