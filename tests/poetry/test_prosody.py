import importlib.util
import json
from pathlib import Path

import pytest

from lstmkit.poetry.prosody import PING, ZE, default_prosody

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "pingshui.json"


@pytest.fixture(scope="module")
def prosody():
    return default_prosody()


def test_table_has_106_groups_30_of_them_level(prosody):
    assert len(prosody.groups) == 106
    level = prosody.level_groups()
    assert len(level) == 30 and level[0] == "一东" and level[-1] == "十五咸"


@pytest.mark.parametrize("char, tones, group", [
    ("东", {PING}, "一东"), ("风", {PING}, "一东"), ("月", {ZE}, "六月"),
    ("白", {ZE}, "十一陌"), ("楼", {PING}, "十一尤"),
])
def test_known_characters(prosody, char, tones, group):
    reading = prosody.read(char)
    assert set(reading.tones) == tones and group in reading.groups
    assert reading.source == "pingshui"


def test_characters_with_two_readings_count_as_either(prosody):
    reading = prosody.read("看")  # 十四寒 and 十五翰
    assert reading.tones == {PING, ZE} and reading.mark == "中"
    assert prosody.can_be("看", PING) and prosody.can_be("看", ZE)


def test_missing_characters_fall_back_to_modern_tones(prosody):
    assert prosody.groups_of("啼") == ()
    reading = prosody.read("啼")  # tí, tone 2
    assert reading.source == "pypinyin" and reading.tones == {PING}
    assert prosody.read("扫").tones == {ZE}  # sǎo / sào
    assert prosody.read("x").source == "unknown" and prosody.read("x").mark == "?"


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/pingshui.json")
def test_shipped_table_is_what_the_build_script_makes(tmp_path):
    shipped = (ROOT / "src" / "lstmkit" / "poetry" / "pingshui.json").read_text("utf-8")
    spec = importlib.util.spec_from_file_location("build_pingshui", ROOT / "scripts" / "build_pingshui.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(shipped) == module.build(SHARED)
