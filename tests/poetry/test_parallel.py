import statistics

import pytest

from lstmkit.data.vocab import Vocab
from lstmkit.poetry.check import check_poem, format_report, split_lines
from lstmkit.poetry.forms import FORMS
from lstmkit.poetry.parallel import ParallelRule, default_table
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import SampleConfig

from conftest import verse_generator

CHUNWANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"


def test_classes_pair_like_with_like():
    table = default_table()
    assert table.pair_score("山", "水") > 1.0  # seen together often
    assert table.pair_score("三", "万") > 1.0  # numbers answer numbers
    assert table.pair_score("红", "碧") > 1.0  # colours answer colours
    assert table.pair_score("三", "碧") < 0 and table.pair_score("山", "不") < 0
    assert table.pair_score("山", "Q") == 0.0  # unknown: neutral


def test_check_reports_the_middle_couplets_of_a_lushi():
    result = check_poem(CHUNWANG)
    assert [(c.name, c.lines, c.parallel) for c in result.couplets] == [
        ("颔联", (3, 4), True), ("颈联", (5, 6), True)]
    assert "颔联 (lines 3-4): parallel (对仗)" in format_report(result)
    assert result.to_dict()["couplets"][1]["lines"] == [5, 6]
    loose = CHUNWANG.replace("恨别鸟惊心", "岂料是吾心")
    verdict = check_poem(loose)
    assert [c.parallel for c in verdict.couplets] == [False, True]
    assert verdict.ok  # parallelism is reported, not a violation of the form
    assert check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。").couplets == []


def test_real_lushi_pass_more_often_in_the_middle_than_at_the_ends():
    table = default_table()
    lines = [line.text for line in split_lines(CHUNWANG)]
    middle = [table.couplet_score(lines[i], lines[i + 1]) for i in (2, 4)]
    last = table.couplet_score(lines[6], lines[7])
    assert min(middle) > table.threshold > last


def test_the_rule_speaks_only_on_the_second_line_of_a_middle_couplet():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"一三万山水红碧不"])
    rule = ParallelRule(vocab, FORMS["五律"])
    first = ["白日依山尽", "黄河入海流", "红山三万里"]
    bias = rule.bias(first, "", 5)  # line 4, position 1 answers 红
    assert bias[vocab.index["碧"]] > bias[vocab.index["三"]]
    bias = rule.bias(first, "碧水", 5)  # position 3 answers 三
    assert bias[vocab.index["万"]] > bias[vocab.index["山"]]
    assert rule.bias(first[:2], "", 5) is None  # line 3 opens the couplet
    assert ParallelRule(vocab, FORMS["五绝"]).bias(first, "", 5) is None


@pytest.fixture(scope="module")
def generator():
    return verse_generator()


def test_written_couplets_pair_better_with_the_rule(generator):
    def middle_scores(refine: bool) -> list[float]:
        poems = write_poems(generator, PoemRequest(FORMS["五律"], refine=refine), 6,
                            SampleConfig(seed=3, temperature=1.0))
        return [c.score for p in poems for c in check_poem(p.text).couplets]

    assert statistics.mean(middle_scores(True)) > statistics.mean(middle_scores(False)) + 0.2
