import pytest
import torch

from lstmkit.data.condition import (
    OTHER_POET,
    SEP,
    Conditioning,
    clean_title,
    extend_vocab,
    poet_token,
    top_poets,
)
from lstmkit.data.text import TextConfig, prepare_text, scoring_batches
from lstmkit.data.vocab import Vocab
from lstmkit.errors import LstmkitError
from lstmkit.tasks.lm import evaluate, train

from conftest import FIXTURES, TINY_MODEL, tiny_config

CONDITIONED = dict(min_freq=1, val_fraction=0.0, condition=0.5, poets=3, batch_size=4)


def test_titles_keep_their_han_characters_only():
    assert clean_title("  送元二使安西（一作渭城曲）") == "送元二使安西一作渭城曲"
    assert len(clean_title("奉" * 40)) == 16


def test_top_poets_by_count_then_name():
    assert top_poets(["乙", "甲", "乙", "", "丙", "甲", "丁"], 2) == ["乙", "甲"]


def test_prefix_of_plain_and_conditioned_vocabularies():
    plain = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "月", "秋"])
    assert Conditioning(plain).prefix() == [plain.bos_id]
    with pytest.raises(LstmkitError, match="trained without titles"):
        Conditioning(plain).prefix(title="秋")
    vocab = extend_vocab(plain, ["李白"])
    cond = Conditioning(vocab)
    assert cond.active and cond.poets == ["李白"]
    ids = cond.prefix(title="秋月", poet="李白")
    assert [vocab.tokens[i] for i in ids] == ["<bos>", poet_token("李白"), "秋", "月", SEP]
    assert [vocab.tokens[i] for i in cond.prefix()] == ["<bos>", SEP]
    with pytest.raises(LstmkitError, match="poet '杜甫' is not one the model knows"):
        cond.prefix(poet="杜甫")
    with pytest.raises(LstmkitError, match="not in the model's vocabulary: 夜"):
        cond.prefix(title="秋夜")
    loose = cond.prefix(title="秋夜", poet="杜甫", strict=False)
    assert [vocab.tokens[i] for i in loose] == ["<bos>", OTHER_POET, "秋", "<unk>", SEP]


def test_conditioned_batches_score_bodies_only_and_vary_by_epoch():
    data = prepare_text(FIXTURES / "poems.jsonl", TextConfig(**CONDITIONED))
    plain = prepare_text(FIXTURES / "poems.jsonl", TextConfig(min_freq=1, val_fraction=0.0, batch_size=4))
    train_ = data.train
    assert train_.tokens == plain.train.tokens  # the same bodies and <eos> are predicted
    assert len(train_) == len(plain.train) and train_.units == plain.train.units
    sep = data.vocab.index[SEP]
    plans = [train_.plan(epoch) for epoch in range(4)]
    for plan in plans:
        shown = sorted(i % train_.poems for batch in plan for i in batch)
        assert shown == list(range(train_.poems))  # each poem once per epoch
        for batch in plan:
            b = train_.collate(batch)
            for row in range(len(batch)):
                given = int((b.inputs[row] == sep).nonzero()[0, 0])
                # nothing before <sep> is predicted; the first target is the body's first token
                assert (b.targets[row, :given] == data.vocab.pad_id).all()
                assert b.targets[row, given] not in (data.vocab.pad_id, sep)
            assert b.tokens == int((b.targets != data.vocab.pad_id).sum())
    variants = {tuple(sorted(i // train_.poems for batch in plan for i in batch)) for plan in plans}
    assert len(variants) > 1  # the draws change between epochs


def test_poets_need_condition_and_condition_needs_poems():
    with pytest.raises(LstmkitError, match="poets needs condition"):
        TextConfig(poets=8)
    with pytest.raises(LstmkitError, match="condition must be in"):
        TextConfig(condition=1.5)
    with pytest.raises(LstmkitError, match="needs poems, not a stream"):
        prepare_text(FIXTURES / "novel.txt", TextConfig(condition=0.5))


def test_scoring_given_titles_and_poets(tmp_path):
    out = tmp_path / "run"
    settings = tiny_config(epochs=2, **{k: v for k, v in CONDITIONED.items() if k != "val_fraction"})
    train(FIXTURES / "poems.jsonl", out, TINY_MODEL, **settings)
    from lstmkit.tasks.lm import load_model

    loaded = load_model(out / "best")
    assert loaded.text_config.condition == 0.5
    results = {}
    for given in ("none", "title", "poet", "both"):
        batches, _ = scoring_batches(FIXTURES / "poems.jsonl", loaded.vocab, loaded.text_config,
                                        loaded.clean, given=given)
        results[given] = evaluate(loaded.model, batches, torch.device("cpu"))
    assert len({r.tokens for r in results.values()}) == 1  # the same tokens, however conditioned
    assert len({round(r.nll, 6) for r in results.values()}) == 4  # and the prefix matters


def test_a_plain_model_cannot_be_given_titles(tiny_model_dir):
    from lstmkit.tasks.lm import load_model

    loaded = load_model(tiny_model_dir)
    with pytest.raises(LstmkitError, match="trained without titles"):
        scoring_batches(FIXTURES / "poems.jsonl", loaded.vocab, loaded.text_config, loaded.clean,
                        given="title")


def test_writing_to_a_title_and_poet_feeds_them_first(conditioned_dir):
    from lstmkit.sample import Generator, SampleConfig
    from lstmkit.tasks.lm import load_model

    loaded = load_model(conditioned_dir)
    assert loaded.meta["train_poems"] + loaded.meta["val_poems"] == 14  # poems, not their variants
    generator = Generator.for_model(loaded)
    poet = generator.conditioning.poets[0]
    _, ids = generator._prompt("春", title="《春晓》", poet=poet)
    assert [loaded.vocab.tokens[i] for i in ids] == ["<bos>", poet_token(poet), "春", "晓", SEP, "春"]
    config = SampleConfig(seed=3, max_len=30, temperature=2.0)
    plain = generator.generate("", 8, config)
    titled = generator.generate("", 8, config, title="春晓", poet=poet)
    assert [s.text for s in plain] != [s.text for s in titled]  # the prefix is read
    for sample in plain + titled:  # <sep> and poet tokens are never written
        assert SEP not in sample.text and "<poet" not in sample.text
    with pytest.raises(LstmkitError, match="has no Chinese characters"):
        generator.generate("", 1, config, title="Spring")
    with pytest.raises(LstmkitError, match="longer than 16"):
        generator.generate("", 1, config, title="春" * 17)
    with pytest.raises(LstmkitError, match="is not one the model knows"):
        generator.generate("", 1, config, poet="无此人")


def test_poem_command_with_title_theme_and_poet(conditioned_dir, verse_model_dir):
    from click.testing import CliRunner

    from lstmkit.cli import main

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    ok = run("write", "--model", conditioned_dir, "--title", "春晓", "--seed", "1", "--max-len", "10")
    assert ok.exit_code == 0, ok.output
    themed = run("write", "--model", conditioned_dir, "--theme", "春", "花", "--seed", "1", "--max-len", "10")
    assert themed.exit_code == 0 and "theme -> title" in themed.output
    poets = run("poets", "--model", conditioned_dir, "--json")
    assert poets.exit_code == 0 and len(__import__("json").loads(poets.output)) == 3
    for args, message in [
        (("--theme", "春", "--title", "春晓"), "give --title or --theme, not both"),
        (("--theme", "XYZ"), "is not all Chinese characters"),
        (("--theme", "鑫"), "the model does not know: 鑫"),
        (("stray",), "unexpected argument"),
    ]:
        result = run("write", "--model", conditioned_dir, *args)
        assert result.exit_code != 0 and message in result.output, result.output
    plain = run("poem", "--model", verse_model_dir, "--form", "五绝", "--title", "春晓")
    assert plain.exit_code != 0 and "trained without titles" in plain.output
    assert "trained without poets" in run("poets", "--model", verse_model_dir).output


def test_ranking_scores_a_conditioned_model_on_the_body_alone(conditioned_dir):
    from lstmkit.data.batching import PoemBatches
    from lstmkit.poetry.rank import mean_logprobs
    from lstmkit.tasks.lm import load_model

    loaded = load_model(conditioned_dir)
    text = "春眠不觉晓，处处闻啼鸟。"
    vocab = loaded.vocab
    row = torch.tensor(Conditioning(vocab).prefix() + vocab.encode(text) + [vocab.eos_id])
    batches = PoemBatches([row], 1, vocab.pad_id, shuffle=False, prefix=[1])
    result = evaluate(loaded.model, batches, torch.device("cpu"))
    assert result.tokens == len(text) + 1  # <sep> is given, not scored
    assert mean_logprobs(loaded.model, vocab, [text])[0] == pytest.approx(-result.loss, rel=1e-5)


def test_reading_a_models_poets_loads_no_torch():
    import subprocess
    import sys

    code = ("import sys; from lstmkit.cli import main; from lstmkit.data.condition import Conditioning; "
            "main(['poets', '--json'], standalone_mode=False); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *printed, loaded_torch = out.stdout.splitlines()
    poets = __import__("json").loads("\n".join(printed))
    assert len(poets) == 64 and poets[:3] == ["白居易", "杜甫", "李白"]
    assert loaded_torch == "False"


def test_guidance_steers_only_when_there_is_a_title_or_poet(conditioned_dir):
    from lstmkit.sample import Generator, SampleConfig
    from lstmkit.tasks.lm import load_model

    generator = Generator.for_model(load_model(conditioned_dir))
    poet = generator.conditioning.poets[0]
    config = SampleConfig(seed=5, max_len=20, temperature=1.0)
    guided = SampleConfig(seed=5, max_len=20, temperature=1.0, guidance=2.0)
    texts = lambda samples: [s.text for s in samples]  # noqa: E731
    # nothing to steer by: guidance changes nothing
    assert texts(generator.generate("春", 6, config)) == texts(generator.generate("春", 6, guided))
    plain = generator.generate("春", 6, config, title="春晓", poet=poet)
    steered = generator.generate("春", 6, guided, title="春晓", poet=poet)
    assert texts(plain) != texts(steered)
    assert all(SEP not in s.text and "<poet" not in s.text for s in steered)
    # a sample's log-probability stays the model's own (given the title), whatever steered it
    sample = steered[0]
    vocab, model = generator.vocab, generator.model
    _, prompt = generator._prompt("春", title="春晓", poet=poet)
    written = vocab.encode(list(sample.text[1:])) + ([vocab.eos_id] if sample.finished else [])
    ids = torch.tensor([prompt + written])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[:, :-1])[0].float(), dim=-1)[0]
    expected = sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(written))
    assert sample.logprob == pytest.approx(expected, abs=1e-3)
    with pytest.raises(LstmkitError, match="guidance must be a number from 0 to 10"):
        SampleConfig(guidance=float("nan"))


def test_a_ci_written_to_its_tune_alone_is_not_steered():
    from lstmkit.poetry.request import PoemRequest
    from lstmkit.sample import SampleConfig

    config = SampleConfig(guidance=2.0)
    assert PoemRequest.make(tune="浣溪沙").steered(config).guidance == 0.0
    assert PoemRequest.make(tune="浣溪沙", poet="苏轼").steered(config).guidance == 2.0
    assert PoemRequest.make("七绝", title="秋夜").steered(config).guidance == 2.0
