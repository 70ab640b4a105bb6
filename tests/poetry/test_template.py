import pytest

from lstmkit.errors import LstmkitError
from lstmkit.poetry.check import check_poem
from lstmkit.poetry.forms import get_form
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.poetry.stream import stream_poem
from lstmkit.poetry.template import locked_lines, parse_template
from lstmkit.sample import SampleConfig

from conftest import verse_generator

QIJUE = get_form("七绝")


def test_a_template_fixes_its_characters_in_any_layout():
    fixed = parse_template("春风＿＿＿＿＿，＿＿＿＿＿＿＿。\n _______，□□□□明月＊。", QIJUE)
    assert fixed == {(0, 0): "春", (0, 1): "风", (3, 4): "明", (3, 5): "月"}
    with pytest.raises(LstmkitError, match="template line 2 has 5 characters; 七绝 needs 7"):
        parse_template("春风＿＿＿＿＿，＿＿＿＿＿。＿＿＿＿＿＿＿，＿＿＿＿＿＿＿。", QIJUE)
    with pytest.raises(LstmkitError, match="the template has 2 lines; 七绝 has 4"):
        parse_template("春风＿＿＿＿＿，＿＿＿＿＿＿＿。", QIJUE)


def test_locked_lines():
    assert locked_lines([None, "黄河入海流", "", None], get_form("五绝")) == {
        (1, i): c for i, c in enumerate("黄河入海流")}
    with pytest.raises(LstmkitError, match="locked line 2 has 4 characters"):
        locked_lines([None, "黄河入海", None, None], get_form("五绝"))


def test_written_poems_keep_the_fixed_characters_and_the_form():
    generator = verse_generator()
    request = PoemRequest.make(form="五绝", lines=[None, "黄河入海流", None, None], acrostic="白黄欲更")
    for poem in write_poems(generator, request, 2, SampleConfig(seed=1)):
        lines = poem.text.replace("。", "，").split("，")
        assert lines[1] == "黄河入海流" and [x[0] for x in lines[:4]] == list("白黄欲更")
        assert check_poem(poem.text, form="五绝").ok
    chars = []
    template = "＿＿依山尽，＿＿＿＿＿。＿＿＿＿＿，＿＿＿＿＿。"
    poem = stream_poem(generator, PoemRequest.make(form="五绝", template=template),
                       SampleConfig(seed=2), lambda line, pos, c: chars.append(c))
    assert poem.text[2:5] == "依山尽" and "".join(chars).endswith(poem.text.replace("，", "").replace("。", "")[-5:])


@pytest.mark.parametrize("options, message", [
    (dict(form="七绝", template="春风＿＿＿＿＿，＿＿＿＿＿＿月。＿＿＿＿＿＿＿，＿＿＿＿＿＿＿。"),
     "line 2 ends in a rhyme of 七绝"),
    (dict(form="七绝", template="春风＿＿＿＿＿，＿＿＿＿＿＿＿。＿＿＿＿＿＿＿，＿＿＿＿明月＿。"),
     "fit no standard tone pattern of 七绝"),
    (dict(form="五绝", lines=[None, "黄河入海流", None, None], acrostic="白江欲更"),
     "cannot open with both the acrostic's '江' and the fixed '黄'"),
    (dict(template="春风＿＿＿＿＿，＿＿＿＿＿＿＿。"), "need a form"),
])
def test_impossible_fixed_characters_are_refused_before_writing(options, message):
    with pytest.raises(LstmkitError, match=message):
        write_poems(verse_generator(), PoemRequest.make(**options), 1, SampleConfig(seed=1))


def test_streams_written_together_each_report_their_own_poem():
    from lstmkit.poetry.stream import Reader, stream_poems

    generator = verse_generator()
    request = PoemRequest.make(form="五绝", start="白日")
    seen: list[list[tuple[int, int, str]]] = [[], [], []]
    restarts = [0, 0, 0]

    def reader(i):
        def on_restart():
            restarts[i] += 1
            seen[i].clear()
        return Reader(lambda line, pos, c: seen[i].append((line, pos, c)), on_restart)

    poems = stream_poems(generator, request, SampleConfig(seed=5), [reader(i) for i in range(3)])
    for poem, got in zip(poems, seen):
        assert check_poem(poem.text, form="五绝").ok and poem.text.startswith("白日")
        lines = poem.text.replace("。", "，").split("，")[:4]
        assert "".join(c for _, _, c in got) == "".join(lines)  # this reader's own characters
        assert [(line, pos) for line, pos, _ in got] == [(a, b) for a in range(4) for b in range(5)]
    assert len({p.text for p in poems}) == 3
