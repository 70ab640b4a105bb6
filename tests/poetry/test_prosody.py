import importlib.util
import json
from pathlib import Path

import pytest

from lstmkit.poetry.prosody import PING, ZE, default_prosody

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "pingshui.json"
MERGED = SHARED.with_name("pingshui_merged.json")


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


def test_missing_characters_fall_back_to_the_oblique_tone_only(prosody):
    assert prosody.groups_of("另") == ()
    reading = prosody.read("另")  # lìng: a tone 4 was 仄 in any case
    assert reading.source == "pypinyin" and reading.tones == {ZE}
    assert prosody.read("x").source == "unknown" and prosody.read("x").mark == "?"


@pytest.mark.parametrize("char", ["蝴", "嫦"])
def test_a_modern_level_tone_is_unknown_not_guessed(prosody, char):
    reading = prosody.read(char)  # hú, cháng: in neither table nor supplement
    assert reading.tones == frozenset() and reading.mark == "?" and reading.source == "unknown"
    assert not prosody.can_be(char, PING) and not prosody.can_be(char, ZE)


@pytest.mark.parametrize("char, standard, mark, group", [
    ("簷", "檐", PING, "十四盐"), ("猨", "猿", PING, "十三元"),
    ("刦", "劫", ZE, "十七洽"), ("檝", "楫", ZE, "十六叶"), ("着", "著", ZE, "十药"),
])
def test_variant_forms_read_as_their_standard_form(prosody, char, standard, mark, group):
    reading = prosody.read(char)
    assert prosody.read(standard).source == "pingshui"
    assert reading.source == f"variant:{standard}" and reading.mark == mark
    assert group in reading.groups and prosody.rhymes_in(char, group, dominant=True)


def test_a_merged_character_rhymes_only_by_its_dominant_source(prosody):
    tai = prosody.read("台")  # 臺 (十灰) has 1,080 line ends, 台 (四支, 十灰) 149
    assert set(tai.groups) == {"四支", "十灰"} and tai.rhyme_groups == ("十灰",)
    assert prosody.rhymes_in("台", "四支") and not prosody.rhymes_in("台", "四支", dominant=True)
    minor = prosody.merged.minor("台", "四支")
    assert (minor.trad, minor.line_ends, minor.dominant) == ("台", 149, "臺")
    assert prosody.merged.minor("台", "十灰") is None
    assert prosody.read("东").rhyme_groups == ("一东",)  # not merged: every reading counts


def test_supplement_reads_characters_the_table_lacks(prosody):
    ti = prosody.read("啼")  # 杜奚切, 齊 平 in the 廣韻
    assert ti.source == "supplement" and ti.mark == PING and ti.groups == ("八齐",)
    assert prosody.rhymes_in("啼", "八齐", dominant=True)
    xi = prosody.read("皙")  # modern xī, but 先擊切 (錫, entering tone) in the 廣韻
    assert xi.source == "supplement" and xi.mark == ZE and xi.groups == ("十二锡",)
    assert prosody.read("樽").groups == ("十三元",) and prosody.read("燃").groups == ("一先",)
    # a simplified character of traditional heads in different groups rhymes only in shared ones
    zha = prosody.read("咤")  # 咤 六麻 二十二祃, 吒 二十二祃
    assert zha.tones == {PING, ZE} and zha.rhyme_groups == ("二十二祃",)


def test_supplement_maps_guangyun_rhymes_to_pingshui_groups():
    build = _script("build_supplement")
    table = [{"name": n, "tone": t, "pingze": "平" if t == "平" else "仄", "chars": c}
             for n, t, c in [("八齐", "平", "齐"), ("十七洽", "入", "洽"), ("九泰", "去", "泰"),
                             ("二十四迥", "上", "迥"), ("十六叶", "入", "叶")]]
    rows = [{"資料名稱": "廣韻", "字頭": "", "字頭覈校前": h, "最簡描述": d}
            for h, d in [("啼", "定開齊平"), ("業", "疑嚴入"), ("蓋", "見開泰去"), ("等", "端開登上"),
                         ("葉", "以鹽入")]]
    heads = build.guangyun_groups(rows, build.group_names(table))
    assert heads == {"啼": ["八齐"], "業": ["十七洽"], "蓋": ["九泰"], "等": ["二十四迥"], "葉": ["十六叶"]}


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variant_table_rules():
    mapping = {"簷": ["檐"], "慙": ["惭"], "鑪": ["炉"], "槕": ["桌"], "东": ["東"]}
    table = {"檐", "鑪", "东"}
    built = _script("build_variants").build(mapping, table, used={"簷", "慙", "炉", "东"})["variants"]
    # held standard; unknown standard of a used variant; a used standard the table holds
    # as its variant; an unused variant (槕) and a table character (东) are left out
    assert {k: built[k] for k in ("簷", "慙", "炉")} == {"簷": "檐", "慙": "惭", "炉": "鑪"}
    assert "槕" not in built and "东" not in built and built["着"] == "著"


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/pingshui.json")
def test_shipped_table_is_what_the_build_script_makes():
    shipped = (ROOT / "src" / "lstmkit" / "poetry" / "pingshui.json").read_text("utf-8")
    assert json.loads(shipped) == _script("build_pingshui").build(SHARED)


@pytest.mark.skipif(not MERGED.exists(), reason="needs ../shared/data/pingshui_merged.json")
def test_shipped_merged_readings_are_what_the_build_script_makes():
    shipped = (ROOT / "src" / "lstmkit" / "poetry" / "merged.json").read_text("utf-8")
    assert json.loads(shipped) == _script("build_merged").build(MERGED)


def test_modern_tones_of_the_main_block_come_from_the_table_without_pypinyin():
    import subprocess
    import sys

    from lstmkit.poetry.prosody import _modern_oblique

    assert _modern_oblique("我") == {"仄"} and _modern_oblique("好") == {"仄"}  # 3 (and 4)
    assert _modern_oblique("中") == frozenset() and _modern_oblique("的") == frozenset()  # 1 or 2 too
    code = ("import sys; from lstmkit.poetry.prosody import _modern_oblique; _modern_oblique('我'); "
            "print('pypinyin' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
