"""Two CPU processes on gloo through torchrun: the same code path as multi-GPU DDP."""

import json
import os
import subprocess
import sys

from conftest import FIXTURES


def torchrun(*args, timeout=240):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "lstmkit", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _rows(out, kind):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["kind"] == kind]


def test_two_process_training_and_resume(tmp_path):
    out = tmp_path / "ddp"
    common = ["train", "--corpus", FIXTURES / "poems.jsonl", "--out", out, "--device", "cpu",
              "--embedding-size", 8, "--hidden-size", 8, "--layers", 1, "--batch-size", 2,
              "--val-fraction", 0.2, "--min-freq", 1, "--log-every", 1, "-q"]
    torchrun(*common, "--epochs", 2, "--max-steps", 4)
    state = json.loads((out / "last" / "trainer.json").read_text())
    assert state["step"] == 4
    meta = json.loads((out / "last" / "config.json").read_text())
    assert meta["processes"] == 2
    # Each rank takes every other batch of the epoch's plan: half the steps of one process.
    batches = -(-meta["train_poems"] // 2)
    steps_per_epoch = batches // 2
    result = torchrun(*common, "--epochs", 2, "--resume")
    assert result.stdout.count(f"done at step {2 * steps_per_epoch}") == 1  # rank 0 reports
    steps = _rows(out, "step")
    assert [r["step"] for r in steps] == list(range(1, 2 * steps_per_epoch + 1))  # rank 0 only
    epochs = _rows(out, "epoch")
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["val_ppl"] > 1 for e in epochs)
    assert (out / "best" / "model.safetensors").is_file()
    tensors_file = (out / "last" / "trainer.safetensors").read_bytes()
    assert b"rng.r0.cpu" in tensors_file and b"rng.r1.cpu" in tensors_file


def test_two_process_stream_training_shares_the_stripes(tmp_path):
    out = tmp_path / "ddp-stream"
    common = ["train", "--corpus", FIXTURES / "play.txt", "--out", out, "--device", "cpu",
              "--embedding-size", 8, "--hidden-size", 8, "--layers", 1, "--batch-size", 2,
              "--seq-len", 16, "--val-fraction", 0.1, "--min-freq", 1, "--log-every", 1, "-q"]
    torchrun(*common, "--epochs", 1, "--max-steps", 3)
    tensors_file = (out / "last" / "trainer.safetensors").read_bytes()
    # Stopped inside the epoch: each process keeps the state of its own stripes.
    assert b"stream_state.r0.0" in tensors_file and b"stream_state.r1.0" in tensors_file
    torchrun(*common, "--epochs", 1, "--resume")
    meta = json.loads((out / "best" / "config.json").read_text())
    # 4 stripes (2 per process) of the training text, in windows of 16 tokens.
    stripe = (meta["train_tokens"] - 1) // 4
    assert [r["step"] for r in _rows(out, "step")] == list(range(1, (stripe - 15) // 16 + 1))
    assert _rows(out, "epoch")[0]["val_ppl"] > 1
