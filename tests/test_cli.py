import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lstmkit.cli import main

from conftest import FIXTURES


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_train_then_resume_with_a_progress_bar(tmp_path):
    out = tmp_path / "run"
    base = ["train", "--corpus", FIXTURES / "poems.jsonl", "--out", out, "--embedding-size", 8,
            "--hidden-size", 8, "--layers", 1, "--batch-size", 4, "--val-fraction", 0.2,
            "--min-freq", 1, "--log-every", 1, "--device", "cpu"]
    first = run(*base, "--epochs", 2, "--max-steps", 3)
    assert "reached max_steps=3 at step 3" in first.output
    assert "step/s" in first.output  # the tqdm bar
    assert "kept 14" in first.output
    second = run(*base, "--epochs", 2, "--resume")
    assert "done at step 8 (2 epochs done)" in second.output
    assert "ignored on --resume (the run keeps its own): --batch-size, --embedding-size" in second.output
    assert "validation perplexity" in second.output
    assert (out / "best" / "model.safetensors").is_file()


def test_malformed_lines_are_reported_and_skipped(tmp_path):
    result = run("train", "--corpus", FIXTURES / "messy.jsonl", "--out", tmp_path / "r",
                 "--epochs", 1, "--hidden-size", 4, "--embedding-size", 4, "--min-freq", 1,
                 "--val-fraction", 0, "-q")
    assert "line 8: not valid JSON (skipped 2 of 10 records)" in result.output
    assert "read 10, kept 4, dropped 6" in result.output


def test_config_file_fills_options_and_the_command_line_wins(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[model]\nhidden_size = 6\nembedding_size = 6\nlayers = 1\n'
                      '[train]\nepochs = 1\nbatch_size = 8\nmin_freq = 1\n', "utf-8")
    out = tmp_path / "run"
    run("train", "--corpus", FIXTURES / "poems.jsonl", "--out", out, "--config", config,
        "--hidden-size", 10, "-q")
    meta = json.loads((out / "best" / "config.json").read_text())
    assert meta["model"]["hidden_size"] == 10 and meta["model"]["embedding_size"] == 6
    assert meta["data"]["batch_size"] == 8 and meta["loop"]["epochs"] == 1


@pytest.mark.parametrize("content, message", [
    (b"hiden_size = 6\n", "unknown setting 'hiden_size' for lstmkit train"),
    (b"[modle]\nhidden_size = 6\n", "unknown section [modle]"),
    (b"[model]\nhidden_size = 'big'\n", "hidden_size must be an integer (got 'big')"),
    (b"epochs = 1.5\n", "epochs must be an integer (got 1.5)"),
    (b"lr = true\n", "lr must be a number (got True)"),
    (b"precision = 'fp64'\n", "precision: 'fp64' is not one of"),
    (b"\xff\xfe\x00binary", "is not a UTF-8 text file"),
    (b"epochs = \n", "is not valid TOML"),
])
def test_a_bad_config_is_named_in_one_line(tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_bytes(content)
    result = run("train", "--corpus", FIXTURES / "poems.jsonl", "--out", tmp_path / "r",
                 "--config", config, ok=False)
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_poem_and_write(tiny_model_dir):
    result = run("poem", "--model", tiny_model_dir, "-n", 3, "--seed", 1, "--json")
    poems = json.loads(result.output)
    assert len(poems) == 3 and all("".join(p["lines"]) == p["text"] for p in poems)
    again = json.loads(run("poem", "--model", tiny_model_dir, "-n", 3, "--seed", 1, "--json").output)
    assert again == poems
    text = run("write", "--model", tiny_model_dir, "--start", "明月", "--seed", 2, "--max-len", 10)
    assert text.output.startswith("明月")


def test_eval_json(tiny_model_dir):
    result = run("eval", "--corpus", FIXTURES / "poems.jsonl", "--model", tiny_model_dir,
                 "--split", "val", "--json")
    values = json.loads(result.output.strip().splitlines()[-1])
    assert set(values) >= {"perplexity", "bits_per_char", "tokens"}
    assert values["perplexity"] > 1 and values["poems"] >= 1


def test_export_half_precision(tiny_model_dir, tmp_path):
    run("export", "--model", tiny_model_dir, "--out", tmp_path / "small", "--dtype", "fp16")
    result = run("eval", "--corpus", FIXTURES / "poems.jsonl", "--model", tmp_path / "small", "--json")
    full = run("eval", "--corpus", FIXTURES / "poems.jsonl", "--model", tiny_model_dir, "--json")
    ppl = [json.loads(r.output.strip().splitlines()[-1])["perplexity"] for r in (result, full)]
    assert ppl[0] == pytest.approx(ppl[1], rel=1e-2)


@pytest.mark.parametrize("make_args, message", [
    (lambda d, m: ["train", "--corpus", d / "missing.jsonl", "--out", d / "r"],
     "corpus '{d}/missing.jsonl' does not exist"),
    (lambda d, m: ["train", "--corpus", d / "empty.jsonl", "--out", d / "r"],
     "has no usable poems: it is empty"),
    (lambda d, m: ["eval", "--corpus", d / "broken.jsonl", "--model", m],
     "has no usable poems"),
    (lambda d, m: ["write", "--model", m, "--start", "明月abc"],
     "3 character(s) not in the model's vocabulary: a b c"),
    (lambda d, m: ["poem", "--model", d / "corrupt"], "corrupt or not safetensors"),
    (lambda d, m: ["poem", "--model", d / "nowhere"], "does not exist"),
    (lambda d, m: ["poem", "--model", m, "--temperature", "-1"], "temperature must be a finite number, 0 or more"),
    (lambda d, m: ["train", "--corpus", d / "empty.jsonl", "--out", d / "r", "--device", "cuda:0"],
     "no CUDA GPU"),
])
def test_user_errors_are_one_line(tmp_path, tiny_model_dir, make_args, message):
    (tmp_path / "empty.jsonl").write_text("", "utf-8")
    (tmp_path / "broken.jsonl").write_text('{"paragraphs": \n', "utf-8")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "vocab.json"):
        (corrupt / name).write_bytes((tiny_model_dir / name).read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 64)
    result = run(*make_args(tmp_path, tiny_model_dir), ok=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ")
    assert message.format(d=tmp_path) in lines[-1]
    assert "Traceback" not in result.output


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "lstmkit", "--help"], capture_output=True,
                            text=True, check=True)
    for command in ("train", "poem", "write", "eval"):
        assert command in result.stdout


def test_poem_in_a_form_passes_check(verse_model_dir):
    result = run("poem", "--model", verse_model_dir, "--form", "qijue", "-n", 2, "--seed", 3,
                 "--json")
    poems = json.loads(result.output)
    assert len(poems) == 2
    for poem in poems:
        assert [len(line) for line in poem["lines"]] == [16, 16]
        assert run("check", poem["text"], "--form", "七绝").exit_code == 0


def test_acrostic_picks_the_form_from_its_length(verse_model_dir):
    result = run("poem", "--model", verse_model_dir, "--acrostic", "春夏秋冬", "--seed", 1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0][0] == "春" and lines[0][8] == "夏"
    assert len(lines[0]) == 16  # two 七言 lines with their marks
    bad = run("poem", "--model", verse_model_dir, "--acrostic", "春夏秋", ok=False)
    assert "an acrostic of 3 characters fits no form" in bad.output


def test_check_explains_and_sets_the_exit_status(tmp_path):
    good = run("check", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert "form: 五绝, pattern 仄起首句不入韵, rhyme group 十一尤" in good.output
    assert "no violations" in good.output
    poem = tmp_path / "poem.txt"
    poem.write_text("床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。\n", "utf-8")
    bad = run("check", "--file", poem, "--json", ok=False)
    assert bad.exit_code == 2
    verdict = json.loads(bad.output)
    assert verdict["form"] == "五绝" and verdict["rhyme_group"] == "七阳"
    assert {v["rule"] for v in verdict["violations"]} == {"tone"}
    missing = run("check", "--file", tmp_path / "nope.txt", ok=False)
    assert missing.exit_code == 1 and "cannot read poem file" in missing.output
    neither = run("check", ok=False)
    assert "give the poem as an argument or with --file" in neither.output


def test_tunes_and_ci(verse_model_dir):
    listing = run("tunes", "浣溪沙")
    assert listing.output.startswith("浣溪沙  平韵  ") and "。〇〇〇〇〇〇〇，" in listing.output
    assert "unknown tune" in run("tunes", "没有这个", ok=False).output
    ci = json.loads(run("poem", "--model", verse_model_dir, "--form", "ci", "--tune", "浣溪沙",
                        "--tones", "loose", "--seed", 2, "--json").output)[0]
    assert ci["form"] == "浣溪沙" and len(ci["lines"]) == 5  # lines 4 and 5 share a sentence
    assert run("check", ci["text"], "--tune", "浣溪沙", "--tones", "loose").exit_code == 0


def test_writing_precision(tiny_model_dir):
    for precision in ("fp32", "bf16", "int8", "auto"):
        poems = json.loads(run("poem", "--model", tiny_model_dir, "-n", 2, "--seed", 1,
                               "--precision", precision, "--json").output)
        assert len(poems) == 2 and all(p["text"] for p in poems)
    seeded = [run("write", "--model", tiny_model_dir, "--seed", 4, "--precision", "fp32").output
              for _ in range(2)]
    assert seeded[0] == seeded[1]


TINY = ["--embedding-size", 16, "--hidden-size", 24, "--layers", 1, "--batch-size", 4,
        "--min-freq", 1, "--log-every", 1, "--device", "cpu", "--val-fraction", 0.1]


@pytest.fixture(scope="module")
def stream_runs(tmp_path_factory):
    """A char-level model of the English fixture play and a word-level one of the novel."""
    root = tmp_path_factory.mktemp("streams")
    run("train", "--corpus", FIXTURES / "play.txt", "--out", root / "play", "--seq-len", 16,
        "--epochs", 2, *TINY, "-q")
    run("train", "--corpus", FIXTURES / "novel.txt", "--out", root / "novel", "--level", "word",
        "--seq-len", 8, "--epochs", 2, *TINY, "-q")
    return root


def test_write_from_a_char_stream_model(stream_runs):
    result = run("write", "--model", stream_runs / "play" / "best", "--start", "ANNA:",
                 "--max-len", 80, "-n", 2, "--seed", 3, "--json")
    samples = json.loads(result.stdout)
    assert len(samples) == 2
    for sample in samples:
        assert sample["text"].startswith("ANNA:") and len(sample["text"]) == 5 + 80
        assert "<" not in sample["text"]  # no <unk>, <eos> or <bos> written
    plain = run("write", "--model", stream_runs / "play" / "best", "--max-len", 30, "--seed", 3)
    assert plain.output.strip()  # no start text: the model begins as after a line break
    odd = run("write", "--model", stream_runs / "play" / "best", "--start", "ANNA~", "--max-len", 5)
    assert odd.stdout.startswith("ANNA~")  # the start is kept as typed, read as <unk>
    assert odd.stderr.count("outside the vocabulary, read as <unk>: ~") == 1


def test_write_from_a_word_model_joins_chinese_words(stream_runs):
    result = run("write", "--model", stream_runs / "novel" / "best", "--start", "却说曹操",
                 "--max-len", 20, "--seed", 1, "--json")
    text = json.loads(result.stdout)[0]["text"]
    assert text.startswith("却说曹操") and " " not in text and "<unk>" not in text
    assert len(text) > len("却说曹操") + 20  # twenty words, most of them longer than a character


def test_eval_a_stream_model(stream_runs):
    for name, unit in (("play", "character"), ("novel", "word")):
        result = run("eval", "--corpus", FIXTURES / f"{name}.txt", "--model",
                     stream_runs / name / "best", "--split", "val", "--json")
        values = json.loads(result.output.strip().splitlines()[-1])
        assert values["unit"] == unit and values["tokens"] > 0
        meta = json.loads((stream_runs / name / "best" / "config.json").read_text())
        # The same held-out tail as during training, so the same score (batching aside).
        assert values["perplexity"] == pytest.approx(meta["val_ppl"], rel=0.05)
    words = json.loads(run("eval", "--corpus", FIXTURES / "novel.txt", "--model",
                           stream_runs / "novel" / "best", "--split", "val", "--json").stdout)
    assert words["bits_per_char"] < words["loss"] / 0.693  # a word holds more than one character


def test_poem_refuses_a_stream_model(stream_runs):
    result = run("poem", "--model", stream_runs / "play" / "best", ok=False)
    assert result.exit_code == 1 and "poems need a character-level poem model" in result.output


def test_sweep_writes_its_table_and_plots(tmp_path):
    out = tmp_path / "sweep"
    result = run("sweep", "--corpus", FIXTURES / "play.txt", "--out", out, "--param", "seq_len",
                 "--values", "8,16", "--tokens", 3000, "--epochs", 3, *TINY, "-q")
    assert "| seq_len | validation perplexity |" in result.output
    lines = (out / "sweep.csv").read_text().splitlines()
    assert lines[0].split(",")[:2] == ["seq_len", "val_ppl"] and len(lines) == 3
    for row in lines[1:]:
        _value, ppl, _, speed, memory, wall, tokens = row.split(",")
        assert float(ppl) > 1 and float(speed) > 0 and float(memory) > 0 and float(wall) > 0
        assert 3000 <= int(tokens) < 3000 + 4 * 16  # the same budget, in whole steps
    for png in ("sweep-curves.png", "sweep-summary.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    again = run("sweep", "--corpus", FIXTURES / "play.txt", "--out", out, "--param", "seq_len",
                "--values", "8,16", "--tokens", 3000, "--epochs", 3, *TINY, "-q")
    assert "reusing the finished run" in again.output
    before = (out / "seq_len=8" / "summary.json").read_bytes()
    other = run("sweep", "--corpus", FIXTURES / "play.txt", "--out", out, "--param", "seq_len",
                "--values", "8,16", "--tokens", 2000, "--epochs", 3, *TINY, "-q", ok=False)
    assert other.exit_code == 1 and "holds a run made with other settings or data" in other.output
    assert (out / "seq_len=8" / "summary.json").read_bytes() == before
    corpus = tmp_path / "play.txt"  # the same settings on another text
    corpus.write_text((FIXTURES / "play.txt").read_text()[:-200])
    changed = run("sweep", "--corpus", corpus, "--out", out, "--param", "seq_len",
                  "--values", "8", "--tokens", 3000, "--epochs", 3, *TINY, "-q", ok=False)
    assert changed.exit_code == 1 and "other settings or data" in changed.output
    redone = run("sweep", "--corpus", corpus, "--out", out, "--param", "seq_len", "--force",
                 "--values", "8", "--tokens", 3000, "--epochs", 3, *TINY, "-q")
    assert "reusing" not in redone.output and (out / "seq_len=8" / "summary.json").read_bytes() != before


def test_sweep_run_names_are_exact():
    from lstmkit.sweep import run_name

    assert run_name("lr", 0.001) == "lr=0.001" and run_name("seq_len", 64) == "seq_len=64"
    assert run_name("lr", 0.0010000001) != run_name("lr", 0.001)


@pytest.mark.parametrize("args, message", [
    (["--param", "colour", "--values", "1"], "cannot sweep 'colour'"),
    (["--param", "layers", "--values", "1,two"], "'two' is not an integer for layers"),
    (["--param", "seq_len", "--values", "8", "--seq-len", "4"], "--seq-len cannot be passed"),
    (["--param", "lr", "--values", "1e-3,0.001"], "repeats a value"),
])
def test_sweep_errors(tmp_path, args, message):
    result = run("sweep", "--corpus", FIXTURES / "play.txt", "--out", tmp_path / "s", *args, ok=False)
    assert result.exit_code == 1 and message in result.output


def test_refined_and_plain_poems_and_a_backward_model(verse_model_dir, tmp_path):
    import torch

    from lstmkit.tasks.lm import load_model, save_model

    forward = load_model(verse_model_dir)
    torch.manual_seed(1)
    for p in forward.model.parameters():
        p.data.normal_(0, 0.3)
    backward = tmp_path / "r2l"
    save_model(backward, forward.model, forward.vocab, {"data": {"mode": "poems", "reverse": True}})
    common = ("poem", "--model", verse_model_dir, "--form", "五律", "-n", 3, "--seed", 2, "--json")
    for extra in (["--backward", backward], ["--backward", "none"], ["--no-refine"]):
        poems = json.loads(run(*common, *extra).output)
        assert len(poems) == 3
        assert all(run("check", p["text"]).exit_code == 0 for p in poems)
    plain = json.loads(run(*common, "--no-refine").output)
    assert [p["logprob"] for p in plain] == sorted((p["logprob"] for p in plain), reverse=True)
    wrong = run(*common, "--backward", verse_model_dir, ok=False)
    assert wrong.exit_code != 0 and "reads poems left to right" in wrong.output
    writer = run("poem", "--model", backward, "--form", "五律", ok=False)
    assert "reads poems right to left" in writer.output


def test_poem_template_and_traditional(verse_model_dir):
    template = "风＿＿＿＿，＿＿＿＿＿。＿＿＿＿＿，＿＿＿＿＿。"
    result = run("poem", "--model", verse_model_dir, "--form", "五绝", "--template", template,
                 "--traditional", "--seed", 1, "--json")
    poem = json.loads(result.output)[0]
    assert poem["text"][0] == "風" and poem["form"] == "五绝"
    bad = run("poem", "--model", verse_model_dir, "--form", "五绝", "--template", "风＿＿", ok=False)
    assert bad.output.startswith("Error: the template has 1 lines; 五绝 has 4")


def test_serve_names_models_and_warns_off_loopback():
    from lstmkit.cli.serve import _loopback, _named

    assert _named("runs/tang-title/best/") == ("best", "runs/tang-title/best/")
    assert _named("poet=runs/x") == ("poet", "runs/x")
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("0.0.0.0") and not _loopback("example.org")


def test_sweep_refuses_a_folder_that_holds_something_else(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    result = run("sweep", "--corpus", FIXTURES / "play.txt", "--out", out, "--param", "seq_len",
                 "--values", "8", ok=False)
    assert result.exit_code == 1 and "holds something other than a sweep" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_listing_the_commands_imports_none_of_them():
    import importlib

    from lstmkit.cli.base import main as root

    code = ("import sys; from lstmkit.cli import main; main(['--help'], standalone_mode=False); "
            "print('torch' in sys.modules)")
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert listed.stdout.strip().endswith("False") and "poem" in listed.stdout
    for name, (module, short) in root.lazy.items():  # the help lines are the commands' own
        importlib.import_module(f"lstmkit.cli.{module}")
        command = root.commands[name]
        assert " ".join(command.help.split("\n\n")[0].split()) == short, name
    assert set(root.commands) == set(root.lazy)
