"""The side-by-side benchmark: a quick run prints every metric, and the reference's
decoding (re-read the whole prefix each step) gives the same tokens as lstmkit's stateful
decoding for the same weights, which is what makes their timings comparable."""

import json
import math
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from lstmkit.data.corpus import load_poems
from lstmkit.data.vocab import Vocab
from lstmkit.decoding import banning
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.sample import Generator, SampleConfig

# bench/ is a folder of scripts, not a package; spawned children inherit this path too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import compare
import reference

E, H, LAYERS = 8, 12, 2
REPO = Path(__file__).resolve().parent.parent


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows of ``text`` as {first cell: other cells}."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_quick_run_prints_every_metric(poems_path, tmp_path, capsys):
    saved = tmp_path / "bench.json"
    summary = compare.main(["--quick", "--device", "cpu", "--threads", "1",
                            "--corpus", str(poems_path), "--json", str(saved)])
    rows = table_rows(capsys.readouterr().out)
    for metric in compare.METRICS:
        if metric.cuda_only:
            continue
        label = metric.label.format(**summary["settings"])
        assert label in rows, f"no row '{label}'"
        values = [float(cell.replace(",", "").rstrip("×")) for cell in rows[label]]
        assert len(values) == 5 and all(math.isfinite(v) and v > 0 for v in values), rows[label]
    assert {label for _, label, _ in compare.CONTEXT} <= set(rows)
    saved = json.loads(saved.read_text(encoding="utf-8"))
    for ratios in ("ratios", "ratios_wordlm"):
        assert set(saved[ratios]) == {m.key for m in compare.METRICS if not m.cuda_only}


def test_refeeding_the_prefix_gives_the_stateful_distribution():
    torch.manual_seed(0)
    model = reference.PoetryModel(30, E, H, LAYERS).eval()
    tokens = torch.randint(4, 30, (2, 9))  # (B, T)
    state = None
    with torch.no_grad():
        for t in range(tokens.size(1)):
            out, state = model.rnn(model.embedding(tokens[:, t:t + 1]), state)  # one step
            stepwise = model.head(out[:, -1])  # (B, V)
            refed = model(tokens[:, :t + 1])[:, -1]  # the whole prefix again
            torch.testing.assert_close(refed, stepwise, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("stop_at_eos", [True, False])
def test_reference_poem_equals_lstmkit_generator_for_the_same_weights(poems_path, stop_at_eos):
    poems, _ = load_poems(poems_path)
    vocab = Vocab.build([p.text for p in poems])
    torch.manual_seed(0)
    model = reference.PoetryModel(len(vocab), E, H, LAYERS)
    kit = LanguageModel(ModelConfig(vocab_size=len(vocab), embedding_size=E, hidden_size=H,
                                    layers=LAYERS, dropout=0.0, tie_weights=False))
    kit.load_state_dict(model.state_dict())
    generator = Generator(kit, vocab)
    hook = None if stop_at_eos else banning([vocab.eos_id], len(vocab))
    for seed in range(3):
        ids = reference.generate_poem(model, reference.Specials.of(vocab), max_len=30,
                                      temperature=0.8, seed=seed, stop_at_eos=stop_at_eos)
        sample = generator.generate(n=1, config=SampleConfig(temperature=0.8, max_len=30,
                                                             seed=seed), hook=hook)[0]
        assert vocab.decode(ids) == sample.text
        assert len(ids) == sample.tokens
        if not stop_at_eos:
            assert len(ids) == 30 and vocab.eos_id not in ids


def test_batch_sweep_measures_every_side_at_every_batch(poems_path, tmp_path):
    import batch_sweep

    out = tmp_path / "sweep.json"
    summary = batch_sweep.main(["--quick", "--device", "cpu", "--threads", "1", "--corpus",
                                str(poems_path), "--batch-sizes", "2,4", "--seconds", "0.5",
                                "--json", str(out)])
    rows = {(r["side"], r["batch_size"]): r for r in summary["rows"]}
    assert set(rows) == {(s, b) for s in ("reference", "lstmkit") for b in (2, 4)}
    for row in rows.values():
        assert row["tokens_per_s"] > 0 and math.isfinite(row["val_ppl"])
        assert row["peak_share"] is None  # no known peak for a CPU
    assert json.loads(out.read_text())["rows"] == summary["rows"]
    # 2 layers of 32 over a 32-wide embedding, and the head over the vocabulary
    assert summary["macs_per_token"] == 2 * 4 * 32 * 64 + 32 * summary["vocab_size"]


def test_cpu_training_curves_read_runs_and_plot(tmp_path, capsys):
    import cpu_training

    from lstmkit.tasks.lm import train

    from conftest import FIXTURES, TINY_MODEL, tiny_config

    runs = []
    for negatives, keep in ((0, 0), (6, 10)):
        out = tmp_path / f"k{negatives}"
        train(FIXTURES / "poems.jsonl", out,
              {**TINY_MODEL, "sampled_softmax": negatives, "sampled_keep": keep},
              **tiny_config(epochs=2, batch_size=64 if keep else 4))
        runs.append(out)
    png = tmp_path / "curves.png"
    found = cpu_training.main(["curves", *map(str, runs), "--png", str(png)])
    assert [r["negatives"] for r in found.values()] == [0, 6]
    assert all(len(r["points"]) == 2 for r in found.values())
    assert png.stat().st_size > 0
    table = capsys.readouterr().out
    # the setting in words: the softmax, and the batch size and rate that are not the defaults
    assert [r["setting"] for r in found.values()] == ["full, batch 4, lr 0.01",
                                                      "sampled, 6, 10 kept, lr 0.01"]
    assert "| k0 | full, batch 4, lr 0.01 |" in table


def test_cpu_training_variants_are_labels_with_train_options():
    import cpu_training

    variants = cpu_training.parse_variants(["full=", "k256 = --sampled-softmax 256 --batch-size 128"])
    assert variants == {"full": [], "k256": ["--sampled-softmax", "256", "--batch-size", "128"]}
    for wrong in (["no-equals-sign"], ["=--batch-size 8"], ["a=", "a=--lr 1"]):
        with pytest.raises(SystemExit, match="--variant"):
            cpu_training.parse_variants(wrong)


def test_compare_lstmkit_side_trains_with_a_sampled_softmax(poems_path):
    args = compare.parse_args(["--quick", "--device", "cpu", "--threads", "1",
                               "--sampled-softmax", "5", "--sampled-keep", "8", "--lr", "3e-3"])
    settings = compare.settings_from(args)
    assert (settings.sampled_softmax, settings.sampled_keep, settings.lr) == (5, 8, 3e-3)
    result = compare.run_side("lstmkit", settings, compare.prepare(poems_path, settings))
    assert result["steps"] > 0 and math.isfinite(result["val_ppl"])
    for option, value in (("sampled-softmax", "-1"), ("sampled-keep", "-1"), ("lr", "nan"),
                          ("lr", "0")):
        with pytest.raises(SystemExit, match=option):
            compare.settings_from(compare.parse_args(["--quick", f"--{option}", value]))


def test_gpu_curves_script_trains_the_variants_and_tabulates_them(tmp_path, poems_path):
    """bench/gpu_curves.sh, run on the CPU: every variant trained on the same schedule, the
    table and plot of their curves, and the runs' metrics packed without weights."""
    variants = tmp_path / "variants.txt"
    tiny = "--embedding-size 16 --hidden-size 16 --val-fraction 0.3 --min-freq 1"
    variants.write_text(f"# name  options\nfull   {tiny}\nk4 {tiny} --sampled-softmax 4 "
                        "--sampled-keep 8  # a comment\n\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "RUNS": str(tmp_path / "runs")}
    subprocess.run(["bash", str(REPO / "bench" / "gpu_curves.sh"), str(poems_path), str(out),
                    str(variants), "2000"], check=True, cwd=REPO, env=env, capture_output=True)
    table = (out / "curves.md").read_text(encoding="utf-8")
    assert "| full | full, batch 64 |" not in table  # batch 64 is the default: not named
    assert "| full | full |" in table and "| k4 | sampled, 4, 8 kept |" in table
    assert (out / "curves.png").stat().st_size > 0
    with tarfile.open(out / "runs.tar.gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("k4/metrics.jsonl") for n in names)
    assert not any(n.endswith(".safetensors") for n in names)
