"""The pre-trained models that ship in the package: Tang poems and Song ci."""

import json

import pytest
from click.testing import CliRunner

from lstmkit.bundled import bundled_model_dir
from lstmkit.cli import main
from lstmkit.poetry.check import check_poem
from lstmkit.tasks.lm import load_model

from conftest import FIXTURES


@pytest.mark.parametrize("name", ["tang", "songci"])
def test_bundled_model_loads_and_is_documented(name):
    folder = bundled_model_dir(name)
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 25e6
    loaded = load_model(folder)
    assert len(loaded.vocab) > 4000 and "月" in loaded.vocab
    assert loaded.meta["weights_dtype"] in ("fp16", "bf16")
    assert f"{name}.jsonl" in loaded.meta["corpus"]
    assert "validation perplexity" in (folder / "MODEL.md").read_text("utf-8")


def test_poem_without_model_option_uses_the_bundled_model():
    result = CliRunner().invoke(main, ["poem", "-n", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().split("\n\n")) == 3


def test_bundled_model_knows_tang_poems():
    result = CliRunner().invoke(main, ["eval", "--corpus", str(FIXTURES / "poems.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    # An untrained model scores about the vocabulary size (6,400); these classics score far lower.
    assert json.loads(result.output.strip().splitlines()[-1])["perplexity"] < 150


def test_bundled_model_writes_a_regulated_poem():
    result = CliRunner().invoke(main, ["poem", "--form", "七绝", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    poem = json.loads(result.output)[0]
    assert check_poem(poem["text"], form="七绝").ok


def _perplexity(corpus, model):
    result = CliRunner().invoke(main, ["eval", "--corpus", str(corpus), "--model", str(model),
                                       "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])["perplexity"]


def test_the_ci_model_knows_ci_better_than_the_tang_model():
    ci = FIXTURES / "ci.jsonl"  # six famous Song ci
    songci, tang = (_perplexity(ci, bundled_model_dir(name)) for name in ("songci", "tang"))
    assert songci < 0.8 * tang


def test_ci_without_model_option_uses_the_ci_model():
    args = ["poem", "--form", "ci", "--tune", "浣溪沙", "--seed", "3", "--json"]
    default = CliRunner().invoke(main, args)
    assert default.exit_code == 0, default.output
    ci = json.loads(default.output)[0]
    assert ci["form"] == "浣溪沙" and check_poem(ci["text"], tune="浣溪沙", tones="loose").ok
    songci = CliRunner().invoke(main, [*args, "--model", str(bundled_model_dir("songci"))])
    tang = CliRunner().invoke(main, [*args, "--model", str(bundled_model_dir("tang"))])
    assert default.output == songci.output != tang.output

