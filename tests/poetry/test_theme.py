import pytest

from lstmkit.data.vocab import Vocab
from lstmkit.errors import LstmkitError
from lstmkit.poetry.theme import split_keywords, theme_title, title_or_theme, title_table


def vocab_of(chars: str) -> Vocab:
    return Vocab(["<pad>", "<bos>", "<eos>", "<unk>", *dict.fromkeys(chars)])


def test_keywords_split_on_spaces_commas_and_enumeration_marks():
    assert split_keywords("月 秋、送别,月") == ["月", "秋", "送别"]
    assert split_keywords(["月 秋", "送别"]) == ["月", "秋", "送别"]


def test_the_real_title_holding_most_keywords_wins():
    titles, counts = title_table()
    assert len(titles) == len(counts) > 10_000 and counts == sorted(counts, reverse=True)
    vocab = vocab_of("".join(titles[:20000]))
    title, how = theme_title("秋 夜 送别", vocab)
    assert all(w in title for w in ("秋", "夜", "送别"))
    assert title in titles or "opened by" in how
    # keywords no title holds are the title themselves
    only = vocab_of("鑫淼")
    assert theme_title("鑫 淼", only) == ("鑫淼", "no Tang title holds these keywords: they are the title")


def test_a_missing_keyword_opens_the_title():
    titles, _ = title_table()
    vocab = vocab_of("".join(titles[:20000]) + "鑫")
    title, how = theme_title("鑫 中秋", vocab)
    assert title.startswith("鑫") and "中秋" in title and "opened by 鑫" in how


@pytest.mark.parametrize("theme, message", [
    ("", "at least one keyword"),
    ("a b", "is not all Chinese characters"),
    ("月 " * 3 + "一 二 三 四 五 六 七 八", "at most 8 keywords"),
    ("春风得意马蹄疾 一日看尽长安花 春风 明月", "more than 16 characters"),
    ("龘", "the model does not know: 龘"),
])
def test_bad_themes_are_named(theme, message):
    vocab = vocab_of("月秋送别一二三四五六七八春风得意马蹄疾日看尽长安花明")
    with pytest.raises(LstmkitError, match=message):
        theme_title(theme, vocab)


def test_a_title_or_a_theme_but_not_both():
    vocab = vocab_of("中秋月送别春")
    assert title_or_theme("春", None, vocab) == ("春", None)
    assert title_or_theme("", "月 秋", vocab) == theme_title("月 秋", vocab)
    with pytest.raises(LstmkitError, match="give --title or --theme, not both"):
        title_or_theme("春", "月", vocab, names=("--title", "--theme"))
