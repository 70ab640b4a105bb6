import json

import pytest

from lstmkit.data.corpus import CleanConfig, detect_format, load_poems, split_of, split_poems
from lstmkit.errors import CorpusError

from conftest import FIXTURES


def test_jsonl_reads_every_poem(poems_path):
    poems, report = load_poems(poems_path)
    assert report.format == "jsonl"
    assert (report.read, report.kept, len(poems)) == (14, 14, 14)
    assert poems[0].title == "静夜思" and poems[0].author == "李白"
    assert poems[0].text == "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


def test_messy_corpus_counts_each_reason(caplog):
    _poems, report = load_poems(FIXTURES / "messy.jsonl")
    assert report.read == 10
    assert report.kept == 4
    assert dict(report.dropped) == {"editorial marks": 2, "duplicate": 1, "too short": 1,
                                    "malformed": 2}
    assert report.problems == ["line 8: not valid JSON", "line 9: no 'paragraphs' list of strings"]
    assert "line 8: not valid JSON (skipped 2 of 10 records)" in caplog.text
    assert "dropped 6" in report.summary()


def test_half_width_punctuation_becomes_full_width():
    poems, _ = load_poems(FIXTURES / "messy.jsonl")
    assert poems[-1].text == "白云山上尽，清风松下歇。欲问山中人？黄鹤去不来！"
    raw, _ = load_poems(FIXTURES / "messy.jsonl", CleanConfig(full_width=False, han_only=False))
    assert raw[-1].text == "白云山上尽,清风松下歇.欲问山中人?黄鹤去不来!"


def test_keeping_marked_poems_is_a_choice():
    _, report = load_poems(FIXTURES / "messy.jsonl", CleanConfig(drop_marked=False, han_only=False))
    assert "editorial marks" not in report.dropped


def test_length_bounds(poems_path):
    poems, report = load_poems(poems_path, CleanConfig(min_chars=25, max_chars=48))
    assert all(25 <= len(p.text) <= 48 for p in poems)
    assert report.dropped == {"too short": 8, "too long": 1}  # 8 五绝; 黄鹤楼 has 64
    with pytest.raises(CorpusError, match="smaller than min_chars"):
        CleanConfig(min_chars=30, max_chars=20)


def test_folder_of_json_arrays_with_t2s():
    poems, report = load_poems(FIXTURES / "poet", CleanConfig(t2s=True))
    assert report.format == "dir"
    assert [p.title for p in poems] == ["静夜思", "登鹳雀楼", "春晓"]
    assert poems[0].text == "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert poems[1].author == "王之涣"
    plain, _ = load_poems(FIXTURES / "poet")
    assert "舉頭望明月" in plain[0].text


def test_single_json_array_file(tmp_path):
    path = tmp_path / "poet.tang.0.json"
    path.write_text((FIXTURES / "poet" / "poet.tang.0.json").read_text("utf-8"), "utf-8")
    poems, report = load_poems(path)
    assert report.format == "json" and len(poems) == 2


def test_titled_and_plain_lines():
    titled, report = load_poems(FIXTURES / "titled.txt")
    assert report.format == "titled"
    assert titled[0].title == "静夜思" and titled[0].text.startswith("床前明月光，")
    lines, report = load_poems(FIXTURES / "lines.txt")
    assert report.format == "text" and len(lines) == 4
    assert lines[0].text == "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。"


def test_song_ci_uses_rhythmic_as_title(tmp_path):
    path = tmp_path / "ci.jsonl"
    record = {"author": "苏轼", "rhythmic": "浣溪沙", "paragraphs": ["山下兰芽短浸溪，松间沙路净无泥。"]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", "utf-8")
    poems, _ = load_poems(path)
    assert poems[0].title == "浣溪沙"


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("{not json\n", "no usable poems"),
])
def test_unusable_corpus_is_an_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, "utf-8")
    with pytest.raises(CorpusError, match=message):
        load_poems(path)


def test_missing_corpus(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_poems(tmp_path / "nope.jsonl")


def test_relative_paths_are_also_looked_for_in_lstmkit_data(monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA", str(FIXTURES))
    poems, report = load_poems("poems.jsonl")
    assert len(poems) == 14 and report.path == str(FIXTURES / "poems.jsonl")
    with pytest.raises(CorpusError, match=f"'nope.jsonl' does not exist \\(nor in LSTMKIT_DATA={FIXTURES}\\)"):
        load_poems("nope.jsonl")


def test_folder_without_poems(tmp_path):
    (tmp_path / "authors.json").write_text('[{"name": "x"}]', "utf-8")
    with pytest.raises(CorpusError, match="no files of poems"):
        load_poems(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("床前明月光，疑是地上霜。".encode("gbk"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_poems(path)


def test_detect_format(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text('{"paragraphs": ["x"]}\n', "utf-8")
    assert detect_format(path) == "jsonl"
    assert detect_format(FIXTURES / "titled.txt") == "titled"
    assert detect_format(FIXTURES / "poet") == "dir"


def test_split_is_a_pure_function_of_the_text(poems_path):
    poems, _ = load_poems(poems_path)
    train, val = split_poems(poems, 0.3)
    assert len(train) + len(val) == len(poems)
    assert {p.text for p in val} == {p.text for p in poems if split_of(p.text, 0.3) == "val"}
    # Shuffling the input changes nothing about who is where.
    _train2, val2 = split_poems(list(reversed(poems)), 0.3)
    assert {p.text for p in val2} == {p.text for p in val}
    # A larger fraction only adds poems to validation.
    _, more = split_poems(poems, 0.6)
    assert {p.text for p in val} <= {p.text for p in more}
    assert split_poems(poems, 0.0)[1] == []


def test_split_fraction_is_close_on_many_texts():
    texts = [f"诗{i}" for i in range(20000)]
    share = sum(split_of(t, 0.05) == "val" for t in texts) / len(texts)
    assert 0.04 < share < 0.06
