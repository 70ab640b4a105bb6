"""Odd encodings and punctuation: byte-order marks, half-width marks, bytes that are not
UTF-8 (found where they really are), control characters kept off the terminal."""

import torch

from lstmkit.data.corpus import load_poems
from lstmkit.data.encoding import not_utf8_at
from lstmkit.errors import printable
from lstmkit.poetry.check import check_poem
from lstmkit.sample import Generator, SampleConfig
from lstmkit.tasks.lm import load_model

POEM = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"


def test_a_poem_with_a_bom_zero_width_or_half_width_marks_reads_as_itself():
    plain = check_poem(POEM)
    assert plain.ok and plain.form == "五绝"
    for variant in ("\ufeff" + POEM, POEM.replace("黄", "\u200b黄"),
                    POEM.replace("，", ",").replace("。", "."), POEM.replace("，", ", ").replace("。", ".\n")):
        found = check_poem(variant)
        assert (found.ok, found.form, found.pattern) == (True, "五绝", plain.pattern), variant


def test_corpora_with_a_bom_keep_their_first_poem(tmp_path):
    jsonl = '{"paragraphs": ["白日依山尽，黄河入海流。"]}\n{"paragraphs": ["欲穷千里目，更上一层楼。"]}\n'
    for name, text in (("a.jsonl", jsonl), ("b.txt", "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n")):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        poems, report = load_poems(path)
        assert poems[0].text.startswith("白日") and report.kept == 2


def test_the_first_byte_that_is_not_utf8_is_found_in_the_file_not_the_block(tmp_path):
    path = tmp_path / "big.txt"
    line = "春眠不觉晓，处处闻啼鸟。\n".encode()  # 37 bytes
    body = line * 40_000  # past a 1 MiB block, and a character split across the boundary
    path.write_bytes(b"x" + body + b"\xc3\x28" + line)  # x: the boundary splits a character
    assert not_utf8_at(path) == f"line 40001, byte {len(body) + 1}"
    path.write_bytes(b"ok\n\xe6\x98")  # cut off inside the last character
    assert not_utf8_at(path) == "byte 5"


def test_printable_escapes_what_would_drive_a_terminal():
    assert printable("a\x1b[31mb\x07\r\nc\x9b") == "a\\x1b[31mb\\x07\\x0d\\x0ac\\x9b"
    assert printable("line\n\tnext", newlines=True) == "line\n\tnext"
    assert printable("诗，poem") == "诗，poem"


def test_a_tiny_temperature_writes_the_greedy_text(tiny_model_dir):
    loaded = load_model(tiny_model_dir)
    generator = Generator(loaded.model, loaded.vocab)
    torch.manual_seed(0)
    greedy = generator.generate("", 2, SampleConfig(temperature=0, max_len=12, seed=1))
    tiny = generator.generate("", 2, SampleConfig(temperature=1e-30, max_len=12, seed=1))
    assert [s.text for s in tiny] == [s.text for s in greedy]


def test_json_output_escapes_every_control_character():
    import json

    from click.testing import CliRunner

    from lstmkit.cli import main

    text = "白日\x9b31m依山尽\x7f，黄河入海流。"
    result = CliRunner().invoke(main, ["check", "--json", text])
    assert not any(0x7f <= ord(c) < 0xa0 or (ord(c) < 0x20 and c != "\n") for c in result.output)
    assert json.loads(result.output)["lines"][0]["text"] == "白日\x9b31m依山尽\x7f"
