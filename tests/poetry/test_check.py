import pytest

from lstmkit.errors import LstmkitError
from lstmkit.poetry.check import check_poem, format_report

# Poems whose form is known. 登鹳雀楼, 早发白帝城, 春望 and 枫桥夜泊 keep every rule of
# their form; 静夜思 is a 古绝 (old-style quatrain) and 黄鹤楼 famously breaks the tones
# of a 七律; 江雪 rhymes in an entering (仄) tone.
GOOD = {
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。": ("五绝", "仄起首句不入韵", "十一尤"),
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。": ("七绝", "平起首句不入韵", "十五删"),
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。":
        ("五律", "仄起首句不入韵", "十二侵"),
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。": ("七绝", "仄起首句入韵", "一先"),
}
JING_YE_SI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
HUANG_HE_LOU = ("昔人已乘黄鹤去，此地空余黄鹤楼。黄鹤一去不复返，白云千载空悠悠。"
                "晴川历历汉阳树，芳草萋萋鹦鹉洲。日暮乡关何处是，烟波江上使人愁。")
JIANG_XUE = "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。"


@pytest.mark.parametrize("text", list(GOOD))
def test_regulated_classics_pass(text):
    result = check_poem(text)
    assert result.ok, format_report(result)
    assert (result.form, result.pattern, result.rhyme_group) == GOOD[text]


def test_jing_ye_si_rhymes_but_breaks_the_tones():
    result = check_poem(JING_YE_SI)
    assert result.form == "五绝" and result.rhyme_group == "七阳"
    assert [c for _, c in result.rhymes] == ["光", "霜", "乡"]
    assert not result.broken("rhyme") and result.broken("tone")
    assert check_poem(JING_YE_SI, tones="loose").ok


def test_huang_he_lou_tone_breaks_are_located():
    result = check_poem(HUANG_HE_LOU)
    assert result.form == "七律" and result.rhyme_group == "十一尤" and not result.broken("rhyme")
    tone = [(v.line, v.position) for v in result.violations if v.rule == "tone"]
    assert tone == [(1, 6), (3, 4)]  # 鹤 and 去 where the pattern wants 平


def test_jiang_xue_rhymes_in_an_oblique_group():
    result = check_poem(JIANG_XUE, tones="loose")
    rhyme = [v for v in result.violations if v.rule == "rhyme"]
    assert [(v.line, v.position) for v in rhyme] == [(2, 5), (4, 5)]
    assert "九屑" in rhyme[0].message


def test_marks_each_character():
    result = check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert [line.tones for line in result.lines] == ["仄仄平平仄", "平平仄仄平", "仄平平仄仄", "中仄仄平平"]


@pytest.mark.parametrize("text, rule, fragment", [
    ("白日依山尽，黄河入海流。欲穷千里目，", "shape", "3 lines of 5/5/5 characters fit no"),
    ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼", "punctuation", "line 4 ends with nothing"),
    ("白日依山尽。黄河入海流。欲穷千里目，更上一层楼。", "punctuation", "line 1 ends with 。"),
    ("白日依山，黄河入海流。欲穷千里目，更上一层楼。", "shape", "fit no regulated form"),
    ("白日依山尽，黄河入海流。白日依山尽，更上一层楼。", "repeat", "line 3 repeats line 1"),
    ("白日依山尽，黄河入海流。欲穷千里目，更上一层流。", "rhyme", "重韵: rhyme '流' repeats line 2"),
])
def test_violations(text, rule, fragment):
    result = check_poem(text)
    assert any(v.rule == rule and fragment in v.message for v in result.violations), \
        format_report(result)


def test_expected_form_and_rhyme():
    poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
    assert any("七绝" in v.message for v in check_poem(poem, form="qijue").violations)
    short = check_poem(poem[:18], form="五绝")
    assert [v.message for v in short.violations if v.rule == "shape"] == ["五绝 has 4 lines, this has 3"]
    assert check_poem(poem, rhyme="一东").broken("rhyme")
    with pytest.raises(LstmkitError, match="not a level-tone"):
        check_poem(poem, rhyme="一屋")
    with pytest.raises(LstmkitError, match="unknown form"):
        check_poem(poem, form="sonnet")
    with pytest.raises(LstmkitError, match="empty"):
        check_poem("  ")


def test_a_ci_is_read_as_the_tune_its_shape_follows():
    # 晏殊《浣溪沙》: three 7-character lines, then a couplet joined by ，, then one more;
    # every sentence-closing line rhymes, as the tune table (from the Song ci) punctuates it.
    # 十灰 is split by 词林正韵 (杯 回 徊 第三部, 台 来 第五部); Song ci rhyme across the two.
    text = "一曲新词酒一杯。去年天气旧亭台。夕阳西下几时回？无可奈何花落去，似曾相识燕归来。小园香径独徘徊。"
    result = check_poem(text)
    assert result.form == "浣溪沙" and result.rhyme_group == "A第三部+第五部"
    assert result.ok, result.violations  # ci tones are not held; the 平 rhymes are
    assert [char for _, char in result.rhymes] == ["杯", "台", "回", "来", "徊"]
    assert format_report(result).startswith("form: 浣溪沙")
    # Punctuated with ， after the first line, it is still read as the tune, and told apart.
    comma = check_poem(text.replace("杯。", "杯，"))
    assert comma.form == "浣溪沙" and [v.rule for v in comma.violations] == ["punctuation"]


def test_a_shape_no_form_or_tune_has():
    result = check_poem("一二三四五六七八九十。")
    assert result.form is None and result.broken("shape")
    assert "no 词牌 pattern" in result.violations[0].message


# 李煜《感怀》: line 1 ends in 枝 (四支), the poem rhymes in 八齐, a neighbouring group.
GAN_HUAI = "又见桐花发旧枝，一楼烟雨暮凄凄。凭阑惆怅人谁会，不觉澘然泪眼低。"


def test_first_line_may_borrow_a_neighbouring_rhyme():
    result = check_poem(GAN_HUAI)
    assert result.ok, format_report(result)
    assert (result.rhyme_group, result.pattern) == ("八齐", "仄起首句入韵")
    assert result.rhymes[0] == (1, "枝")
    assert any(n.startswith("首句借邻韵") and "四支" in n for n in result.notes)
    assert result.to_dict()["notes"] == result.notes and result.to_dict()["ok"]
    assert "note: 首句借邻韵" in format_report(result)
    loose = check_poem(GAN_HUAI, tones="loose")
    assert loose.ok and any(n.startswith("首句借邻韵") for n in loose.notes)


def test_a_first_line_in_a_group_that_is_no_neighbour_is_still_rejected():
    result = check_poem(GAN_HUAI.replace("旧枝", "旧家"))  # 家 is 六麻, no neighbour of 八齐
    assert [(v.rule, v.line, v.position) for v in result.violations] == [("tone", 1, 7)]
    assert not any(n.startswith("首句借邻韵") for n in result.notes)


def test_a_rhyme_on_a_rare_reading_of_a_merged_character_is_noted():
    # 台 rhymes in 四支 only as the rare 台; 'terrace' (臺) is 十灰.
    result = check_poem("白日依山尽，黄河入海时。欲穷千里目，更上一层台。")
    assert result.ok and result.rhyme_group == "四支"
    assert [n for n in result.notes if n.startswith("rare reading")] == [
        "rare reading: '台' rhymes in 四支 only as 台 (149 line ends in the Tang poems; as 臺, 1080, it does not)"]
    assert not check_poem("白日依山尽，黄河入海来。欲穷千里目，更上一层台。").notes


def test_a_character_of_unknown_tone_is_marked_and_not_judged():
    result = check_poem("白蝴依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert result.lines[0].tones == "仄?平平仄" and result.ok
    assert [n.split(":")[0] for n in result.notes] == ["uncertain"] and "'蝴'" in result.notes[0]
    # 啼, missing from the table, reads 八齐 through the supplement: judged, no note.
    wu_ti = check_poem("白日依山尽，黄河入海西。欲穷千里目，更上一层啼。")
    assert wu_ti.ok and wu_ti.rhyme_group == "八齐" and not wu_ti.notes
    assert check_poem("白日依山尽，黄河入海西。欲穷千里目，更上一层东。").broken("rhyme")


def test_a_variant_form_is_read_as_its_standard_form():
    # 簷 = 檐 (平, 十四盐): a 平 at line 2 position 2 is what the pattern wants.
    result = check_poem("白日依山尽，黄簷入海流。欲穷千里目，更上一层楼。")
    assert result.lines[1].tones[1] == "平" and result.ok and not result.notes
