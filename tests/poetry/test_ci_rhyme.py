import pytest
import torch

from lstmkit.data.vocab import Vocab
from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.poetry.check import check_poem, format_report
from lstmkit.poetry.ci_rhyme import rhyme_sets
from lstmkit.poetry.cilin import default_cilin
from lstmkit.poetry.constraint import FormConstraint
from lstmkit.poetry.forms import get_form, neighbour_parts, tunes
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import Generator, SampleConfig

# 李白《菩萨蛮》, punctuated as the Song ci corpus punctuates the tune (every line 。): two
# entering-tone lines (织 碧, 第十七部), two level (楼 愁, 第十二部), two entering (立 急),
# two level (程 亭, 第十一部).
PUSAMAN = "平林漠漠烟如织。寒山一带伤心碧。暝色入高楼。有人楼上愁。玉阶空伫立。宿鸟归飞急。何处是归程。长亭连短亭。"
# 欧阳修《浣溪沙》: 轮 尘 人 春 in 十一真, 云 in 十二文; 词林正韵 joins both in 第六部.
HUANXISHA = "湖上朱桥响画轮。溶溶春水浸春云。碧琉璃滑净无尘。当路游丝萦醉客，隔花啼鸟唤行人。日斜归去奈何春。"


def test_tune_labels_load():
    assert tunes()["菩萨蛮"].form.rhyme_labels == ("A仄入", "A仄入", "B平", "B平", "C仄入", "C仄入", "D平", "D平")
    sets = rhyme_sets(get_form("ci", "西江月"))
    assert [(s.letter, s.lines, s.tone) for s in sets] == [("A", (1, 2, 3, 5, 6, 7), "平/仄")]
    assert tunes()["菩萨蛮"].to_dict()["rhymes"][2] == "B平"
    assert ("第六部", "第十一部") in neighbour_parts()


def test_cilin_lookup():
    cilin = default_cilin()
    assert cilin.homes("片") == (("第七部", "仄"),)
    assert cilin.homes("织") == (("第十七部", "入"),)
    assert len(cilin.parts) == 19 and cilin.parts_with("入")[0] == "第十五部"


def test_a_real_pusaman_changes_rhyme_four_times():
    result = check_poem(PUSAMAN, tune="菩萨蛮")
    assert result.ok, format_report(result)
    assert result.rhyme_group == "A第十七部 B第十二部 C第十七部 D第十一部"
    assert [(s["set"], s["tone"], s["lines"]) for s in result.rhyme_sets] == [
        ("A", "仄入", [1, 2]), ("B", "平", [3, 4]), ("C", "仄入", [5, 6]), ("D", "平", [7, 8])]
    assert "韵B" in format_report(result) and result.to_dict()["rhyme_sets"][3]["part"] == "第十一部"


def test_a_pusaman_that_keeps_the_oblique_rhyme_fails_at_the_change():
    result = check_poem(PUSAMAN.replace("有人楼上愁", "有人楼上泣"), tune="菩萨蛮")
    rhyme = [v for v in result.violations if v.rule == "rhyme"]
    assert [(v.line, v.position) for v in rhyme] == [(4, 5)]
    assert rhyme[0].message == "line 4 should rhyme with line 3 (set B, 平, 第十二部): '泣' is 第十七部 入"
    repeated = check_poem(PUSAMAN.replace("宿鸟归飞急", "宿鸟归飞立"), tune="菩萨蛮")
    assert [v.message for v in repeated.violations] == ["rhyme '立' repeats line 5 (set C)"]


def test_a_huanxisha_across_two_pingshui_groups_of_one_part_passes():
    result = check_poem(HUANXISHA)
    assert result.form == "浣溪沙" and result.ok, format_report(result)
    assert result.rhyme_group == "A第六部"
    assert check_poem(HUANXISHA, rhyme="第六部").ok and not check_poem(HUANXISHA, rhyme="第七部").ok
    with pytest.raises(LstmkitError, match="not a 词林正韵 part"):
        check_poem(HUANXISHA, rhyme="十一真")


@pytest.fixture(scope="module")
def generator():
    """An untrained model over every character of 词林正韵: the constraint alone makes the form."""
    torch.manual_seed(0)
    chars = sorted({c for p in default_cilin().parts.values() for s in p.chars.values() for c in s})
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", "、", "？", *chars])
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_size=8,
                                      layers=1, dropout=0.0, tie_weights=False))
    return Generator(model.eval(), vocab)


def test_a_generated_pusaman_follows_its_rhyme_changes(generator):
    cilin = default_cilin()
    poems = write_poems(generator, PoemRequest.make(tune="菩萨蛮"), 4, SampleConfig(seed=2))
    for poem in poems:
        result = check_poem(poem.text, tune="菩萨蛮")
        assert result.ok, format_report(result)
        ends = [line.text[-1] for line in result.lines]
        for s in result.rhyme_sets:
            part = s["part"]
            assert "+" not in part  # the generator keeps each set in one part
            for n in s["lines"]:
                classes = {cls for p, cls in cilin.homes(ends[n - 1]) if p == part}
                assert classes & set(s["tone"])
        assert [s["tone"] for s in result.rhyme_sets] == ["仄入", "平", "仄入", "平"]


def test_rhyme_part_and_openings(generator):
    poem = write_poems(generator, PoemRequest.make(tune="浣溪沙", rhyme="第一部"), 1, SampleConfig(seed=1))[0]
    assert check_poem(poem.text, tune="浣溪沙").rhyme_group == "A第一部"
    form = get_form("ci", "菩萨蛮")
    with pytest.raises(LstmkitError, match=r"'泣' \(第十七部 入\) does not rhyme in set B \(平, 第十二部\) "
                                           "at line 4 position 5"):
        FormConstraint(generator.vocab, form, start=PUSAMAN[:26] + "泣。")
    with pytest.raises(LstmkitError, match="not a 词林正韵 part"):
        FormConstraint(generator.vocab, form, rhyme="一东")
