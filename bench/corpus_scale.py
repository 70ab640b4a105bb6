"""Memory and speed of stream training as the corpus grows: 10 MB, 100 MB and 1 GB of text.

    python bench/corpus_scale.py [--sizes 10,100,1000] [--old SRC_DIR] [--json FILE]

The corpora are made in a temporary folder by repeating the bundled novel (sanguo.txt) and
tiny Shakespeare until each size is reached (``--data`` names their folder); nothing is
kept. For each size, ``lstmkit train --mode stream`` runs a small model for ``--steps``
steps in a fresh process, twice with the token cache (``data.token_cache``; the first run
tokenizes into an empty cache folder, the second reads it) and, with ``--old SRC``, once
with the code in ``SRC`` (a checkout's ``src`` folder from before the cache, which reads the
text whole) for the sizes up to ``--old-max`` MB. Reported per run: wall time of the whole
command, training tokens per second (the run's own ``summary.json``) and the process's peak
resident memory (its own ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["--mode", "stream", "--level", "char", "--hidden-size", "128", "--embedding-size", "64",
         "--layers", "1", "--batch-size", "32", "--seq-len", "64", "--epochs", "1", "--min-freq", "1",
         "--device", "cpu", "--precision", "fp32", "--log-every", "50", "-q", "--force"]


def make_corpus(folder: Path, data: Path, megabytes: int) -> Path:
    pieces = [(data / name).read_bytes() for name in ("sanguo.txt", "tinyshakespeare.txt")]
    block = b"\n".join(pieces) + b"\n"
    target = megabytes * 1_000_000
    path = folder / f"corpus-{megabytes}mb.txt"
    with path.open("wb") as out:
        written = 0
        while written + len(block) <= target:
            out.write(block)
            written += len(block)
        tail = block[: target - written]
        out.write(tail[: tail.rfind(b"\n") + 1])  # end on a whole line, never inside a character
    return path


def run(corpus: Path, out: Path, src: Path, cache: Path, steps: int, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "LSTMKIT_CACHE": str(cache),
           "OMP_NUM_THREADS": str(threads)}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lstmkit", "train", "--corpus", str(corpus),
                           "--out", str(out), "--max-steps", str(steps), *TRAIN],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall_s": round(wall, 1)}
    summary = json.loads((out / "summary.json").read_text())
    return {"wall_s": round(wall, 1), "tokens_per_s": round(summary["tokens_per_s"]),
            "peak_rss_mib": round(summary["peak_memory_mib"]), "steps": summary["step"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="megabytes of text")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--old", type=Path, help="src folder of the code before the token cache")
    parser.add_argument("--old-max", type=int, default=100, help="largest size (MB) to run the old code on")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="lstmkit-scale-") as tmp:
        folder = Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            corpus = make_corpus(folder, args.data, size)
            cache = folder / f"cache-{size}"
            row = {"mb": size, "bytes": corpus.stat().st_size}
            row["cached_first"] = run(corpus, folder / "run", ROOT / "src", cache, args.steps, args.threads)
            row["cached_again"] = run(corpus, folder / "run", ROOT / "src", cache, args.steps, args.threads)
            if args.old and size <= args.old_max:
                row["old"] = run(corpus, folder / "run", args.old, cache, args.steps, args.threads)
            print(json.dumps(row), flush=True)
            results.append(row)
            corpus.unlink()
    out = {"steps": args.steps, "threads": args.threads, "model": "char LSTM 1x128, batch 32 x 64",
           "runs": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
