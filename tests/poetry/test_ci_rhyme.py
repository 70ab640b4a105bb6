import pytest
import torch

from lstmkit.data.vocab import Vocab
from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.poetry.check import check_poem, format_report
from lstmkit.poetry.ci_rhyme import rhyme_sets, rhyme_units
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


# 李清照《如梦令》: its 叠句 争渡。争渡 repeats a whole line and its rhyme 渡.
RUMENGLING = "常记溪亭日暮。沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡。争渡。惊起一滩鸥鹭。"
# 白居易《长相思》: 叠韵 流 流 and 悠 悠.
CHANGXIANGSI = "汴水流。泗水流。流到瓜洲古渡头。吴山点点愁。思悠悠。恨悠悠。恨到归时方始休。月明人倚楼。"


def test_repeats_by_design_pass_where_the_tune_has_them():
    assert tunes()["如梦令"].form.rhyme_labels[5] == "A仄入叠句"
    assert tunes()["长相思"].form.rhyme_labels[1] == "A平叠韵"
    for text, tune in ((RUMENGLING, "如梦令"), (CHANGXIANGSI, "长相思")):
        result = check_poem(text, tune=tune)
        assert result.ok, format_report(result)


def test_a_repeated_rhyme_elsewhere_still_fails():
    result = check_poem(RUMENGLING.replace("鸥鹭", "鸥渡"), tune="如梦令")
    assert [v.message for v in result.violations] == ["rhyme '渡' repeats line 5 (set A)"]
    result = check_poem(CHANGXIANGSI.replace("点点愁", "点点流"), tune="长相思")
    assert [v.message for v in result.violations] == ["rhyme '流' repeats line 1 (set A)"]
    result = check_poem(HUANXISHA.replace("奈何春", "奈何尘"), tune="浣溪沙")  # 浣溪沙 has no repeat
    assert [v.message for v in result.violations] == ["rhyme '尘' repeats line 3 (set A)"]


def test_a_line_that_may_rhyme_is_not_judged_and_either_scheme_of_liushaoqing_passes():
    form = tunes()["柳梢青"].form
    assert form.rhyme_labels[:3] == ("A平?", "", "A平") and form.rhyme_alt[:3] == ("A仄入?", "", "A仄入")
    assert form.rhyme_labels[6] == "A平" and form.rhyme_alt[6] == ""  # the entering form leaves line 7 free
    # 张鎡《柳梢青》 (level rhymes) with line 1 ending off the rhyme (平 -> 静): accepted;
    # line 3 or line 7 off: refused.
    text = ("烟淡波平。蓬松岸蓼，红浅红深。满院西风，连宵良月，几处清砧。"
            "区区宦海浮沉。幸隐去、将愁素心。两鬓吴霜，一屏秦梦，谁是知音。")
    assert check_poem(text.replace("波平", "波静"), tune="柳梢青").ok
    assert not check_poem(text.replace("红深", "红静"), tune="柳梢青").ok
    assert not check_poem(text.replace("浮沉", "浮寂"), tune="柳梢青").ok
    # 赵彦端《柳梢青》 rhymes in entering tone (第十七部) and leaves line 7 (客) free.
    entering = ("衰翁自谪。堪笑忘了，山林闲适。一岁花黄，一秋酒绿，一番头白。"
                "浮生似醉如客。问底事、归来未得。但愿长年，故人相与，春朝秋夕。")
    result = check_poem(entering, tune="柳梢青")
    assert result.ok and result.rhyme_group == "A第十七部", format_report(result)


def test_a_variant_form_rhymes_as_its_standard_form():
    cilin = default_cilin()
    assert cilin.homes("沉") == cilin.homes("沈") == (("第十三部", "平"), ("第十三部", "仄"))
    assert cilin.homes("簷") == cilin.homes("檐") != ()
    # 李石《朝中措》 rhymes 沉 (the table holds 沈) with 吟 金 寻 深.
    text = ("绿杨庭院觉深沉。曾听一莺吟。今夜却成容易，双莲步步摇金。"
            "歌声暂驻，颦眉又去，无计重寻。应恨玉郎殢酒，教人守到更深。")
    result = check_poem(text, tune="朝中措")
    assert result.ok and result.rhyme_group == "A第十三部", format_report(result)


def test_a_generated_rumengling_writes_its_repeat_and_passes(generator):
    poems = write_poems(generator, PoemRequest.make(tune="如梦令"), 3, SampleConfig(seed=3))
    assert poems
    for poem in poems:
        result = check_poem(poem.text, tune="如梦令")
        assert result.ok, format_report(result)
        assert result.lines[4].text == result.lines[5].text
    form = get_form("ci", "如梦令")
    with pytest.raises(LstmkitError, match="line 6 position 1 must repeat '争' of line 5"):
        FormConstraint(generator.vocab, form, start=RUMENGLING[:30].replace("沉", "沈") + "和")


def test_a_set_across_neighbouring_parts_is_accepted_with_a_note():
    # 晏殊: 杯 回 徊 are 第三部, 台 来 第五部 in 词林正韵; Song ci rhyme them together
    text = "一曲新词酒一杯。去年天气旧亭台。夕阳西下几时回。无可奈何花落去，似曾相识燕归来。小园香径独徘徊。"
    result = check_poem(text, tune="浣溪沙", tones="loose")
    assert result.ok
    assert any(n.startswith("邻部通押: set A") and "第三部+第五部" in n for n in result.notes)


def test_entering_parts_rhyme_as_one_family_and_pairwise_neighbours_as_a_triple():
    # 织 is 第十七部 入, 业 第十九部 入: no pair holds them, the entering family does
    assert ("第十五部", "第十六部", "第十七部", "第十八部", "第十九部") in neighbour_parts()
    result = check_poem(PUSAMAN.replace("伤心碧", "伤心业"), tune="菩萨蛮")
    assert result.ok, format_report(result)
    assert any(n.startswith("邻部通押: set A") and "第十七部+第十九部" in n for n in result.notes)
    # the family holds entering characters only: an oblique 第三部 end still breaks the set
    assert not check_poem(PUSAMAN.replace("伤心碧", "伤心树"), tune="菩萨蛮").ok
    units = rhyme_units((("甲", "乙"), ("乙", "丙"), ("甲", "丙"), ("丙", "丁")))
    assert {"甲", "乙", "丙"} in units and not any("丁" in u and len(u) == 3 for u in units)
