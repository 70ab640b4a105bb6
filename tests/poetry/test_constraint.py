import pytest

from lstmkit.data.vocab import Vocab
from lstmkit.errors import LstmkitError
from lstmkit.poetry.check import check_poem, format_report
from lstmkit.poetry.constraint import FormConstraint
from lstmkit.poetry.forms import FORMS, get_form
from lstmkit.poetry.prosody import default_prosody
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.poetry.vocab_masks import vocab_masks
from lstmkit.sample import SampleConfig

from conftest import verse_generator


@pytest.fixture(scope="module")
def generator():
    return verse_generator()


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("tones", ["strict", "loose"])
def test_every_generated_poem_passes_the_checker(generator, form, tones):
    verse = get_form(form)
    for seed in range(6):
        constraint = FormConstraint(generator.vocab, verse, tones)
        samples = generator.generate("", 4, SampleConfig(seed=seed, temperature=1.0,
                                                         max_len=constraint.max_tokens()),
                                     hook=constraint)
        for index, sample in enumerate(samples):
            assert constraint.complete(index)
            result = check_poem(sample.text, tones=tones, form=form)
            assert result.ok, format_report(result)


def test_acrostic_rhyme_and_ranking(generator):
    request = PoemRequest(get_form("七律"), acrostic="春江花月夜色如水", rhyme="七阳",
                          refine=False)  # ranked by the forward model alone
    poems = write_poems(generator, request, 3, SampleConfig(seed=1))
    assert len({p.text for p in poems}) == 3
    assert [p.logprob for p in poems] == sorted((p.logprob for p in poems), reverse=True)
    for poem in poems:
        result = check_poem(poem.text, rhyme="七阳")
        assert result.ok and result.form == "七律"
        assert "".join(line.text[0] for line in result.lines) == "春江花月夜色如水"


def test_continuation_keeps_the_opening(generator):
    opening = "白日依山尽，黄河入海流。"
    poem = write_poems(generator, PoemRequest(get_form("五绝"), start=opening), 1,
                       SampleConfig(seed=4))[0]
    assert poem.text.startswith(opening) and check_poem(poem.text).ok
    assert check_poem(poem.text).rhyme_group == "十一尤"


@pytest.mark.parametrize("start, message", [
    ("床前明月光，疑是地上霜。", "'上' \\(仄\\) at line 2 position 4 fits no standard tone pattern"),
    ("白日依山尽。", "line 1 needs ， after 5 characters, got '。'"),
    ("白日依山尽太，", "line 1 needs ， after 5 characters, got '太'"),
    ("白日依山尽，黄河入海流。欲穷千里目，更上一层东。", "'东' at line 4 position 5 does not rhyme in 十一尤"),
])
def test_an_opening_that_breaks_the_form_is_explained(generator, start, message):
    with pytest.raises(LstmkitError, match="the opening breaks 五绝: " + message):
        FormConstraint(generator.vocab, get_form("五绝"), start=start)


def test_impossible_requests_fail_fast(generator):
    with pytest.raises(LstmkitError, match="needs 8 characters, got 4"):
        FormConstraint(generator.vocab, get_form("五律"), acrostic="春夏秋冬")
    with pytest.raises(LstmkitError, match="cannot write: A"):
        FormConstraint(generator.vocab, get_form("五绝"), acrostic="春夏秋A")
    small = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"东同山水月花"])
    with pytest.raises(LstmkitError, match="fewer than 3 characters of 七阳"):
        FormConstraint(small, get_form("五绝"), rhyme="七阳")
    with pytest.raises(LstmkitError, match="lacks"):
        FormConstraint(Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "东"]), get_form("五绝"))


@pytest.mark.parametrize("tune", ["浣溪沙", "如梦令", "念奴娇", "满江红"])
def test_ci_follow_their_tune_and_pass_the_checker(generator, tune):
    form = get_form("ci", tune)
    poems = write_poems(generator, PoemRequest(form, tones="loose"), 2, SampleConfig(seed=3))
    for poem in poems:
        result = check_poem(poem.text, tones="loose", tune=tune)
        assert result.ok, format_report(result)
        assert [len(line.text) for line in result.lines] == list(form.lengths)
        assert "".join(line.mark for line in result.lines) == form.marks
        assert all("+" not in s["part"] for s in result.rhyme_sets)  # one part per set


def test_a_merged_character_rhymes_only_in_its_dominant_group(generator):
    masks = vocab_masks(generator.vocab, default_prosody())
    tai = generator.vocab.index["台"]
    assert bool(masks.group["十灰"][tai]) and not bool(masks.group["四支"][tai])
    assert masks.tone["平"][tai]  # its tone is not in doubt
    opening = "白日依山尽，黄河入海台"
    FormConstraint(generator.vocab, get_form("五绝"), rhyme="十灰", start=opening)
    with pytest.raises(LstmkitError, match="'台' at line 2 position 5 does not rhyme in 四支"):
        FormConstraint(generator.vocab, get_form("五绝"), rhyme="四支", start=opening)
