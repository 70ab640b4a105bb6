import math

import pytest
import torch

from lstmkit.data.vocab import Vocab
from lstmkit.poetry.check import check_poem, split_lines
from lstmkit.poetry.constraint import FormConstraint
from lstmkit.poetry.forms import FORMS, get_form
from lstmkit.poetry.repetition import RepetitionRule, default_table, repeat_stats
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import SampleConfig

from conftest import verse_generator

FAVOURITES = "中月风"  # characters a stuttering model loves; 中 and 风 can be either tone


@pytest.fixture(scope="module")
def stutterer():
    """A model that wants to write 中, 月 and 风 at every step: left alone it stutters
    (中中中) and reuses them without end."""
    generator = verse_generator()
    with torch.no_grad():
        for char in FAVOURITES:
            generator.model.head.bias[generator.vocab.index[char]] += 12.0
    return generator


def lines_of(text: str) -> list[str]:
    return [line.text for line in split_lines(text)]


def test_the_stutterer_stutters_without_the_rules(stutterer):
    request = PoemRequest(FORMS["七律"], tones="off")
    constraint = FormConstraint(stutterer.vocab, request.form, "off")  # the form alone
    poem = stutterer.generate("", 1, SampleConfig(seed=0, max_len=constraint.max_tokens()),
                              hook=constraint)[0]
    assert default_table().stutters(lines_of(poem.text), FORMS["七律"])
    assert repeat_stats(poem.text).most_uses >= 4


STRATEGIES = [
    ("七律 strict", dict(form="七律"), SampleConfig(seed=1)),
    ("五绝 greedy", dict(form="五绝"), SampleConfig(seed=2, temperature=0)),
    ("七绝 top-k", dict(form="七绝", tones="loose"), SampleConfig(seed=3, top_k=5)),
    ("五律 top-p", dict(form="五律", tones="off"), SampleConfig(seed=4, top_p=0.5)),
    ("acrostic", dict(acrostic="中月风花"), SampleConfig(seed=5, temperature=1.2)),
    ("opening", dict(form="五绝", start="风月中"), SampleConfig(seed=6)),
    ("ci", dict(tune="浣溪沙"), SampleConfig(seed=7)),
    ("free", dict(), SampleConfig(seed=8, max_len=40)),
    ("unrefined", dict(form="七律", refine=False), SampleConfig(seed=9)),
]


@pytest.mark.parametrize("name,options,config", STRATEGIES, ids=[s[0] for s in STRATEGIES])
def test_no_decoding_path_stutters_or_runs_away(stutterer, name, options, config):
    request = PoemRequest.make(**options)
    if request.form is None:  # a free poem ends when the model says so: make it end soon
        with torch.no_grad():
            stutterer.model.head.bias[stutterer.vocab.eos_id] += 6.0
    try:
        poems = write_poems(stutterer, request, 1 if config.temperature == 0 else 2, config)
    finally:
        if request.form is None:
            with torch.no_grad():
                stutterer.model.head.bias[stutterer.vocab.eos_id] -= 6.0
    table = default_table()
    for poem in poems:
        assert not table.stutters(lines_of(poem.text), request.form), poem.text
        assert repeat_stats(poem.text).most_uses <= table.max_uses(request.form), poem.text
        if request.form is not None:
            assert request.check(poem.text).ok


def test_reduplications_real_poems_use_stay_allowed():
    table = default_table()
    assert table.may_double("shi", 5, 1, "悠")  # 悠悠 opening a five-character line
    assert not table.may_double("shi", 7, 2, "中")  # 月中中
    assert not table.may_double("shi", 7, 1, "酒")
    assert table.stutters(["明月中中照", "悠悠天地间"]) == [(1, 4, "中")]
    assert table.stutters(["萧萧萧木落"]) == [(1, 3, "萧")]  # three in a row is a stutter


def test_the_rule_bans_a_stutter_but_not_a_reduplication():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"悠中明月天地"])
    rule = RepetitionRule(vocab, FORMS["五绝"])
    after_you = rule.bias([], "悠", 5)
    assert after_you[vocab.index["悠"]] == 0.0  # 悠悠 at the start of a line
    assert vocab.index["天"] not in after_you  # sparse: a character it does not name costs 0
    after_mid = rule.bias([], "明月中", 5)
    assert after_mid[vocab.index["中"]] == float("-inf")
    assert after_mid[vocab.index["月"]] < 0  # a repeat costs, but is allowed
    worn = rule.bias(["明月明月明"], "月", 5)  # 月 used three times: past max_uses
    assert worn[vocab.index["月"]] == float("-inf")


def test_repeat_stats_count_han_characters_only():
    stats = repeat_stats("春风春雨，春。")
    assert (stats.chars, stats.repeats, stats.most_uses) == (5, 2, 3)


def test_the_table_records_real_poems():
    table = default_table()
    for name in FORMS:
        entry = table.forms[name]
        assert entry["poems"] > 1000 and 0.005 < entry["repeat_share"] < 0.05
        assert 2 <= table.max_uses(FORMS[name]) <= 3
    assert table.max_uses(get_form("ci", "浣溪沙")) >= 3


def test_check_is_unchanged_for_poems_the_rules_allow():
    assert check_poem("悠悠天地间，明月照山川。").form is None  # two lines: no form


def test_a_repeat_is_as_surprising_as_real_poems_make_it():
    from lstmkit.poetry.repetition import repeat_surprise

    # N ~ Poisson(1): P(N >= 1) = 1 - 1/e, so a first repeat costs -log(1 - 1/e)
    assert repeat_surprise(1, 1.0) == pytest.approx(-math.log(1 - math.exp(-1)))
    short, long = 0.5, 1.3  # a 五绝 repeats about half a character, a 律诗 more than one
    assert repeat_surprise(1, short) > repeat_surprise(1, long)
    assert repeat_surprise(1, long) < repeat_surprise(2, long) < repeat_surprise(3, long)


def _random_states(rng, form, alphabet, count):
    """Poems cut at random places, from an alphabet small enough to repeat often, with
    doubled characters where real lines double them and where they do not."""
    states = []
    for _ in range(count):
        line = rng.randrange(form.lines)
        lines = ["".join(rng.choice(alphabet) for _ in range(form.lengths[k])) for k in range(line)]
        pos = rng.randrange(form.lengths[line])
        text = "".join(rng.choice(alphabet) for _ in range(pos))
        if pos >= 2 and rng.random() < 0.3:
            text = text[:-1] + text[-2]  # a doubling at the end of the line so far
        states.append((lines, text, form.lengths[line]))
    return states


@pytest.mark.parametrize("name", ["五绝", "七律", "浣溪沙"])
@pytest.mark.parametrize("penalty", [None, 0.0])
def test_batch_bias_gives_the_same_numbers_as_bias(name, penalty):
    """The batched rule (written for speed) holds, row by row, exactly the dict ``bias``
    gives: the same tokens, the same costs to the last bit, the same bans, with fixed
    characters still to come and doublings allowed or not."""
    import random

    form = get_form(name) if name in FORMS else get_form("ci", tune=name)
    table = default_table()
    doubled = sorted({c for found in table._doubles["shi"].values() for c in found})[:6]
    alphabet = "月风山水人" + "".join(doubled)
    vocab = Vocab.build([alphabet + "春秋"])
    fixed = {(1, 0): "春", (form.lines - 1, 0): "秋", (0, 2): "月"}
    rule = RepetitionRule(vocab, form, penalty=penalty, fixed=fixed)
    states = _random_states(random.Random(len(name)), form, alphabet, 300)
    rows, tokens, values = rule.batch_bias(states)
    got = [{} for _ in states]
    for r, t, v in zip(rows.tolist(), tokens.tolist(), values.tolist()):
        assert t not in got[r]
        got[r][t] = v
    for (lines, text, length), batched in zip(states, got):
        expected = rule.bias(lines, text, length) or {}
        assert batched == expected, (lines, text)


@pytest.mark.parametrize("options", [{"form": "七律"}, {"form": "五绝", "acrostic": "春夏秋冬"},
                                     {"form": "七绝", "refine": False}])
def test_batched_and_row_by_row_rules_write_the_same_poems(stutterer, monkeypatch, options):
    """The constraint asks rules with ``batch_bias`` for the whole batch from BATCH_ROWS rows
    on; with the stutterer's bans and dead ends, both ways write the same poems."""
    from lstmkit.poetry import constraint

    form = options.pop("form")
    written = {}
    for rows in (1, 10**9):
        monkeypatch.setattr(constraint, "BATCH_ROWS", rows)
        request = PoemRequest.make(form, **options)
        written[rows] = [p.text for p in write_poems(stutterer, request, 12, SampleConfig(seed=4))]
    assert written[1] == written[10**9]
    assert len(written[1]) == 12
