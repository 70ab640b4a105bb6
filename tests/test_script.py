import pytest

from lstmkit.errors import LstmkitError
from lstmkit.script import check_script, to_script, to_simplified


def test_traditional_follows_the_words_around_a_character():
    assert to_script("白发三千丈", "traditional") == "白髮三千丈"
    assert to_script("发兵", "traditional") == "發兵"
    assert to_script("春风", "simplified") == "春风"


@pytest.mark.parametrize(("simplified", "traditional"), [
    ("秋草绿芜千万里", "秋草綠蕪千萬里"),  # OpenCC alone gives 千萬裏
    ("千里江陵一日还", "千里江陵一日還"),
    ("数里", "數里"),
    ("梦里不知身是客", "夢裏不知身是客"),  # inside: 裏
    ("故里", "故里"),
])
def test_li_after_a_numeral_is_a_distance(simplified, traditional):
    assert to_script(simplified, "traditional") == traditional
    assert to_simplified(traditional) == simplified


def test_unknown_script():
    with pytest.raises(LstmkitError, match="script must be one of"):
        check_script("cursive")
