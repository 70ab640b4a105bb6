import importlib.util
import json
from pathlib import Path

import pytest

from lstmkit.errors import LstmkitError
from lstmkit.poetry.forms import FORMS, get_form, tone_patterns, tunes

ROOT = Path(__file__).resolve().parents[2]
SONGCI = ROOT.parent / "shared" / "data" / "songci.jsonl"


def test_regulated_forms_and_aliases():
    assert get_form("wujue") is FORMS["五绝"] and get_form("七律").lengths == (7,) * 8
    assert FORMS["五律"].marks == "，。" * 4
    assert [FORMS["五绝"].rhymes(i) for i in range(4)] == [False, True, False, True]
    with pytest.raises(LstmkitError, match="unknown form 'sonnet'"):
        get_form("sonnet")


def test_tone_patterns():
    patterns = {p.name: p.lines for p in tone_patterns(FORMS["五绝"])}
    assert patterns["仄起首句不入韵"] == ("仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平")
    assert patterns["平起首句入韵"] == ("平平仄仄平", "仄仄仄平平", "仄仄平平仄", "平平仄仄平")
    seven = {p.name: p.lines for p in tone_patterns(FORMS["七律"])}
    assert seven["平起首句入韵"][:2] == ("平平仄仄仄平平", "仄仄平平仄仄平")
    assert seven["平起首句入韵"][4:] == ("平平仄仄平平仄", "仄仄平平仄仄平",
                                     "仄仄平平平仄仄", "平平仄仄仄平平")


def test_tunes_table():
    table = tunes()
    huanxisha = table["浣溪沙"]
    assert huanxisha.form.lengths == (7,) * 6 and huanxisha.form.marks == "。。。，。。"
    assert huanxisha.form.rhyme_tone == "平" and huanxisha.follow <= huanxisha.ci
    assert table["如梦令"].form.lengths == (6, 6, 5, 6, 2, 2, 6)
    assert get_form("ci", "浣溪沙") is huanxisha.form
    with pytest.raises(LstmkitError, match="needs --tune"):
        get_form("ci")
    with pytest.raises(LstmkitError, match="unknown tune '浣沙溪'"):
        get_form("ci", "浣沙溪")


@pytest.mark.skipif(not SONGCI.exists(), reason="needs ../shared/data/songci.jsonl")
def test_shipped_tunes_are_what_the_build_script_makes():
    spec = importlib.util.spec_from_file_location("build_tunes", ROOT / "scripts" / "build_tunes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads((ROOT / "src" / "lstmkit" / "poetry" / "tunes.json").read_text("utf-8"))
    assert shipped == module.build(SONGCI)
