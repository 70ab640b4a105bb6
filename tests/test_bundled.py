"""The pre-trained Tang model that ships in the package."""

import json

from click.testing import CliRunner

from lstmkit.checkpoint import load_model
from lstmkit.cli import bundled_model_dir, main
from lstmkit.poetry.check import check_poem

from conftest import FIXTURES


def test_bundled_model_loads_and_is_documented():
    folder = bundled_model_dir()
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 25e6
    loaded = load_model(folder)
    assert len(loaded.vocab) > 5000 and "月" in loaded.vocab
    assert loaded.meta["weights_dtype"] in ("fp16", "bf16")
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
