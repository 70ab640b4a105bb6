"""lstmkit against a tutorial-style reference (bench/reference.py), side by side.

    python bench/compare.py [--device auto|cpu|cuda] [--seconds S] [--poems N] [--quick]

Both sides get the same poems, vocabulary, model size and wall-clock training budget,
and each runs in its own freshly spawned process, so peak memory is its own. Measured:

- training throughput: real (non-padding) target tokens per second;
- validation perplexity after the budget, on the same held-out poems (fp32 on both
  sides, so the number reflects the weights rather than the evaluation precision);
- peak memory: GPU memory allocated (CUDA) and the process's host high-water mark;
- time per poem written one at a time (median), and poems per second written as one
  batch (the reference has no batched generation: its row is its one-at-a-time rate).

The lstmkit side is lstmkit's own ``LanguageModel`` (dropout and tied head as its
defaults), ``PoemBatches`` (length-bucketed), AdamW, gradient clipping and bf16 autocast
on CUDA, as ``lstmkit.core.loop`` uses them. lstmkit plans its warm-up + cosine schedule over
``--epochs``; here the same ``lr_at`` curve is laid over the time budget instead, so
the run ends at the bottom of the schedule as a finished lstmkit run does.

Generated poems are exactly ``--gen-len`` characters on both sides (``<eos>`` masked),
so both do the same work per poem whatever their weights learned.

Prints a Markdown table whose ratios are oriented so that > 1 means lstmkit is better;
``--json FILE`` also saves every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import torch

from lstmkit.core.device import autocast_dtype
from lstmkit.core.loop import LoopConfig, lr_at, train_step
from lstmkit.data.batching import PoemBatches, encode_poems
from lstmkit.data.corpus import DATA_ENV, load_poems, split_poems
from lstmkit.data.text import TextConfig
from lstmkit.data.vocab import Vocab
from lstmkit.decoding import banning
from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.sample import Generator, SampleConfig
from lstmkit.tasks.lm import evaluate, training_loss

import reference
import wordlm_reference

REPO = Path(__file__).resolve().parent.parent
SIDES = ("reference", "wordlm", "lstmkit")
TEMPERATURE = 0.8  # lstmkit's default sampling temperature, used on both sides
BATCH_REPEATS = 3  # batched generation runs; the median is reported
WORDLM_BATCH, WORDLM_BPTT, WORDLM_LR, WORDLM_CLIP = 20, 35, 20.0, 0.25  # the example's recipe
# The budget-stretched schedule: lr_at over this many virtual steps, the first 5% warm-up.
SCHEDULE_STEPS, SCHEDULE_WARMUP = 1000, 50

# Defaults per profile; any option given on the command line wins.
PROFILES = {
    "cuda": dict(embedding_size=512, hidden_size=512, layers=2, batch_size=64, seconds=120.0,
                 poems=None, val_poems=1000, gen_len=64, gen_poems=10, batch_poems=64,
                 warmup_steps=5, val_fraction=TextConfig.val_fraction,
                 min_freq=TextConfig.min_freq),
    "cpu": dict(embedding_size=256, hidden_size=256, layers=2, batch_size=64, seconds=60.0,
                poems=None, val_poems=500, gen_len=64, gen_poems=10, batch_poems=64,
                warmup_steps=5, val_fraction=TextConfig.val_fraction,
                min_freq=TextConfig.min_freq),
    # Tiny everything: seconds of work, for the test and a smoke check.
    "quick": dict(embedding_size=32, hidden_size=32, layers=2, batch_size=4, seconds=1.5,
                  poems=300, val_poems=50, gen_len=16, gen_poems=3, batch_poems=8,
                  warmup_steps=1, val_fraction=0.2, min_freq=1),
}


@dataclass(frozen=True)
class Settings:
    device: str  # cpu or cuda
    profile: str
    embedding_size: int
    hidden_size: int
    layers: int
    batch_size: int
    seconds: float  # training wall time per side
    poems: int | None  # poems drawn from the corpus (None: all)
    val_poems: int  # held-out poems evaluated at most
    gen_len: int  # characters per generated poem
    gen_poems: int  # poems timed one at a time
    batch_poems: int  # poems per batched generation
    warmup_steps: int  # training steps left out of the throughput
    val_fraction: float
    min_freq: int
    threads: int  # torch threads in each side's process (0: torch's default)
    seed: int = 0
    sampled_softmax: int = 0  # lstmkit's side trains its head with this many negatives (0: full)
    sampled_keep: int = 0  # ... always scoring this many of the lowest (most frequent) ids
    lr: float = LoopConfig.lr  # lstmkit's side's peak learning rate


@dataclass(frozen=True)
class BenchData:
    """What both sides train and evaluate on, built once in the parent."""

    train: list[str]
    val: list[str]
    vocab_tokens: list[str]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str  # may hold {fields} of Settings
    fmt: str
    higher_is_better: bool
    cuda_only: bool = False


METRICS = (
    Metric("tokens_per_s", "training throughput, real target tokens/s", "{:,.0f}", True),
    Metric("val_ppl", "validation perplexity after {seconds:g} s", "{:.1f}", False),
    Metric("peak_gpu_mib", "peak GPU memory allocated, MiB", "{:,.0f}", False, cuda_only=True),
    Metric("peak_rss_mib", "peak host memory (RSS high-water), MiB", "{:,.0f}", False),
    Metric("rss_added_mib", "host memory added by training + generation, MiB", "{:,.1f}", False),
    Metric("ms_per_poem", "time per poem, one at a time, ms (median of {gen_poems})",
           "{:,.1f}", False),
    Metric("poems_per_s", "poems/s batched (n={batch_poems}; reference: one at a time)",
           "{:,.1f}", True),
)
CONTEXT = (  # shown for reading the metrics; no ratio
    ("parameters", "parameters", "{:,}"),
    ("steps", "training steps in the budget", "{:,}"),
    ("padding", "padding share of computed positions", "{:.1%}"),
)


def default_corpus() -> Path:
    data_dir = os.environ.get(DATA_ENV)
    return Path(data_dir) / "tang.jsonl" if data_dir else REPO.parent / "shared/data/tang.jsonl"


def peak_rss_mib() -> float:
    """This process's resident-memory high-water mark.

    On Linux this is VmHWM: ``ru_maxrss`` of a spawned child starts at its parent's
    high-water mark (exec keeps the larger of the two), which would hide the difference.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock read after it is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(write: Callable[[int], object], count: int) -> float:
    """Median wall time of ``write(seed)`` over seeds 0..count-1, after one warm-up call."""
    write(10_000)
    times = []
    for seed in range(count):
        started = time.perf_counter()
        write(seed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def train_lstmkit(model: LanguageModel, batches: PoemBatches, config: LoopConfig,
                  device: torch.device, settings: Settings) -> dict:
    """lstmkit's training step (see ``lstmkit.core.loop``) until the time budget is spent."""
    amp = autocast_dtype(config.precision, device)

    def loss_of(net, batch, amp, state):  # the settings' softmax is in the model's config
        return training_loss(net, model, batch, batches.pad_id, amp, state)

    schedule = replace(config, warmup_steps=SCHEDULE_WARMUP)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    model.train()
    step = epoch = tokens = positions = 0
    warm_tokens, warm_time = 0, None
    loss_sum = torch.zeros((), device=device)
    started = time.perf_counter()
    spent = False
    while not spent:
        for indices in batches.plan(epoch):
            batch = batches.collate(indices).to(device)
            progress = (time.perf_counter() - started) / settings.seconds
            lr = lr_at(int(progress * SCHEDULE_STEPS), SCHEDULE_STEPS, schedule)
            loss, _ = train_step(loss_of, model, optimizer, batch, lr, config.clip, amp)
            loss_sum += loss  # read once at the end: no host sync per step
            step += 1
            tokens += batch.tokens
            positions += batch.targets.numel()
            if step == settings.warmup_steps:
                sync(device)
                warm_tokens, warm_time = tokens, time.perf_counter()
            if time.perf_counter() - started >= settings.seconds:
                spent = True
                break
        epoch += 1
    sync(device)
    ended = time.perf_counter()
    if warm_time is None or step == settings.warmup_steps:
        warm_tokens, warm_time = 0, started
    return {"steps": step, "padding": 1 - tokens / positions,
            "tokens_per_s": (tokens - warm_tokens) / max(ended - warm_time, 1e-9),
            "mean_loss": float(loss_sum) / step}


def measure_reference(settings: Settings, data: BenchData, vocab: Vocab,
                      device: torch.device) -> dict:
    model = reference.PoetryModel(len(vocab), settings.embedding_size, settings.hidden_size,
                                  settings.layers).to(device)
    train = reference.encode(data.train, vocab)
    stats = reference.train_for(model, reference.random_batches(train, settings.batch_size,
                                                                settings.seed),
                                vocab.pad_id, device, seconds=settings.seconds,
                                warmup_steps=settings.warmup_steps)
    ppl = reference.perplexity(model, reference.encode(data.val, vocab), vocab.pad_id, device,
                               settings.batch_size)
    ids = reference.Specials.of(vocab)
    per_poem = median_seconds(
        lambda seed: reference.generate_poem(model, ids, settings.gen_len, TEMPERATURE, seed,
                                             stop_at_eos=False),
        settings.gen_poems)
    return {"parameters": sum(p.numel() for p in model.parameters()), "steps": stats.steps,
            "padding": 1 - stats.tokens / stats.positions, "tokens_per_s": stats.tokens_per_s,
            "train_loss": stats.mean_loss, "val_ppl": ppl, "ms_per_poem": 1000 * per_poem,
            "poems_per_s": 1 / per_poem, "batched_generation": False}


def measure_wordlm(settings: Settings, data: BenchData, vocab: Vocab, device: torch.device) -> dict:
    """The PyTorch word-language-model recipe (``wordlm_reference``): the poems as one stream,
    batch 20, bptt 35, SGD at 20 with clipping at 0.25, the learning rate quartered after an
    epoch that does not improve; tied, so its embedding is ``hidden_size`` wide."""
    w = wordlm_reference
    torch.manual_seed(settings.seed)
    model = w.WordLM(len(vocab), settings.hidden_size, settings.layers).to(device)

    def stream(texts: list[str]) -> torch.Tensor:  # <eos> first: every poem is predicted whole
        ids = [vocab.eos_id]
        for text in texts:
            ids += [*vocab.encode(text), vocab.eos_id]
        return torch.tensor(ids, dtype=torch.long)

    train, val = w.stripes(stream(data.train), WORDLM_BATCH), stream(data.val)
    run = w.fit(model, train, val, settings.seconds, device, WORDLM_LR, WORDLM_BPTT, WORDLM_CLIP)
    per_poem = median_seconds(lambda seed: wordlm_poem(model, vocab, settings.gen_len, seed, device),
                              settings.gen_poems)
    return {"parameters": sum(p.numel() for p in model.parameters()), "steps": run["steps"],
            "padding": 0.0, "tokens_per_s": run["tokens"] / run["seconds"],
            "val_ppl": run["epochs"][-1]["val_ppl"],  # the model as the budget left it
            "ms_per_poem": 1000 * per_poem, "poems_per_s": 1 / per_poem,
            "batched_generation": False}


@torch.inference_mode()
def wordlm_poem(model, vocab: Vocab, length: int, seed: int, device: torch.device) -> list[int]:
    """``length`` tokens after an ``<eos>``, one at a time with the state carried (as the
    example's generate.py does), at ``TEMPERATURE``; ``<eos>`` masked as on the other sides."""
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    token = torch.tensor([[vocab.eos_id]], device=device)
    state, out = None, []
    for _ in range(length):
        logits, state = model(token, state)
        logits = logits[-1, 0].float() / TEMPERATURE
        logits[vocab.eos_id] = float("-inf")
        token = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[None]
        out.append(int(token))
    return out


def measure_lstmkit(settings: Settings, data: BenchData, vocab: Vocab,
                    device: torch.device) -> dict:
    config = LoopConfig(seed=settings.seed, lr=settings.lr)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab),
                                      embedding_size=settings.embedding_size,
                                      hidden_size=settings.hidden_size,
                                      layers=settings.layers,
                                      sampled_softmax=settings.sampled_softmax,
                                      sampled_keep=settings.sampled_keep)).to(device)
    train = PoemBatches(encode_poems(data.train, vocab), settings.batch_size, vocab.pad_id,
                        shuffle=True, seed=settings.seed)
    val = PoemBatches(encode_poems(data.val, vocab), settings.batch_size, vocab.pad_id,
                      shuffle=False)
    stats = train_lstmkit(model, train, config, device, settings)
    ppl = evaluate(model, val, device).perplexity
    generator = Generator(model, vocab)
    no_eos = banning([vocab.eos_id], len(vocab))

    def write(seed: int, n: int) -> None:
        sample = SampleConfig(temperature=TEMPERATURE, max_len=settings.gen_len, seed=seed)
        generator.generate(n=n, config=sample, hook=no_eos)

    per_poem = median_seconds(lambda seed: write(seed, 1), settings.gen_poems)
    per_batch = median_seconds(lambda seed: write(seed, settings.batch_poems), BATCH_REPEATS)
    return {"parameters": model.num_parameters(), "steps": stats["steps"],
            "padding": stats["padding"], "tokens_per_s": stats["tokens_per_s"],
            "train_loss": stats["mean_loss"], "val_ppl": ppl, "ms_per_poem": 1000 * per_poem,
            "poems_per_s": settings.batch_poems / per_batch, "batched_generation": True}


def run_side(side: str, settings: Settings, data: BenchData) -> dict:
    """Measure one side; meant to run in a fresh process of its own."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    vocab = Vocab(data.vocab_tokens)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = peak_rss_mib()
    measure = {"reference": measure_reference, "wordlm": measure_wordlm, "lstmkit": measure_lstmkit}[side]
    result = measure(settings, data, vocab, device)
    result["peak_rss_mib"] = peak_rss_mib()
    result["rss_added_mib"] = result["peak_rss_mib"] - rss_before
    if device.type == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    result["device_name"] = device_name(device)
    result["threads"] = torch.get_num_threads()
    return result


def run_in_child(side: str, settings: Settings, data: BenchData) -> dict:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_side, side, settings, data).result()


def prepare(corpus: Path, settings: Settings) -> BenchData:
    poems, _ = load_poems(corpus)
    if settings.poems is not None and settings.poems < len(poems):
        poems = random.Random(settings.seed).sample(poems, settings.poems)
    train, val = split_poems(poems, settings.val_fraction)
    if not train or not val:
        raise SystemExit(f"corpus '{corpus}': {len(train)} training and {len(val)} validation "
                         "poems; both sides need some of each: raise --poems or --val-fraction")
    texts = [p.text for p in train]
    vocab = Vocab.build(texts, min_freq=settings.min_freq)
    return BenchData(texts, [p.text for p in val[:settings.val_poems]], vocab.tokens)


def ratio(metric: Metric, ref: float, kit: float) -> float:
    """> 1 when lstmkit is better."""
    return kit / ref if metric.higher_is_better else ref / kit


def render(settings: Settings, data: BenchData, results: dict, info: dict) -> str:
    s = asdict(settings)
    ref, word, kit = results["reference"], results["wordlm"], results["lstmkit"]
    cuda = f"CUDA {info['cuda']}" if info["cuda"] else "no CUDA"
    lines = [
        "## lstmkit vs. a tutorial-style reference and the PyTorch word-LM recipe",
        "",
        f"torch {info['torch']} · {info['device_name']} ({settings.device}, torch threads: "
        f"{kit['threads']}) · {cuda} · {info['date']}",
        "",
        f"command: `{info['command']}`",
        "",
        f"model: embedding {settings.embedding_size}, {settings.layers} × {settings.hidden_size} "
        f"LSTM, vocabulary {len(data.vocab_tokens):,}; batch {settings.batch_size} poems; "
        f"{settings.seconds:g} s of training per side; {len(data.train):,} training and "
        f"{len(data.val):,} validation poems",
    ]
    if settings.sampled_softmax:
        kept = f", always scoring the {settings.sampled_keep:,} most frequent" if settings.sampled_keep else ""
        lines.append(f"(lstmkit trains its head with a sampled softmax of {settings.sampled_softmax} "
                     f"negatives per batch{kept}; every perplexity is the full softmax's)")
    if settings.lr != LoopConfig.lr:
        lines.append(f"(lstmkit trains at a peak learning rate of {settings.lr:g}, not its default "
                     f"{LoopConfig.lr:g})")
    cpu, cuda_sizes = PROFILES["cpu"], PROFILES["cuda"]
    if settings.profile == "cpu" and (settings.embedding_size, settings.hidden_size) == (
            cpu["embedding_size"], cpu["hidden_size"]):
        lines.append(f"(CPU default sizes {cpu['embedding_size']}/{cpu['hidden_size']}, smaller "
                     f"than the {cuda_sizes['embedding_size']}/{cuda_sizes['hidden_size']} used "
                     "on CUDA; --embedding-size and --hidden-size change them)")
    if settings.profile == "quick":
        lines.append("(--quick: a tiny model and budget; the numbers only show the harness works)")
    lines += ["", "| metric | tutorial reference | word-LM recipe | lstmkit | lstmkit vs tutorial "
              "(> 1: lstmkit better) | lstmkit vs word-LM |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for metric in METRICS:
        if metric.cuda_only and settings.device != "cuda":
            continue
        r, w, k = ref[metric.key], word[metric.key], kit[metric.key]
        lines.append(f"| {metric.label.format(**s)} | {metric.fmt.format(r)} | {metric.fmt.format(w)} | "
                     f"{metric.fmt.format(k)} | {ratio(metric, r, k):.2f}× | {ratio(metric, w, k):.2f}× |")
    for key, label, fmt in CONTEXT:
        lines.append(f"| {label} | {fmt.format(ref[key])} | {fmt.format(word[key])} | "
                     f"{fmt.format(kit[key])} | — | — |")
    lines += [
        "",
        f"Poems are exactly {settings.gen_len} characters on both sides (`<eos>` masked), "
        f"temperature {TEMPERATURE}. The reference re-reads the whole prefix for every character "
        "and has no batched generation, so its poems/s is its one-at-a-time rate. Each side ran "
        "in its own spawned process; host memory is that process's high-water mark (VmHWM), "
        "which includes Python, torch and the poems. The word-LM recipe (bench/wordlm_reference.py: "
        f"the poems as one stream, batch {WORDLM_BATCH}, bptt {WORDLM_BPTT}, SGD at {WORDLM_LR:g}, "
        f"tied, so its embedding is {settings.hidden_size} wide) writes one token at a time with its "
        "state carried; its throughput counts its whole budget, warm-up included, and its "
        "perplexity is over the same tokens (each held-out poem's characters and end).",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help=f"poems to train on (default: ${DATA_ENV}/tang.jsonl, "
                             "else ../shared/data/tang.jsonl beside the repository)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quick", action="store_true",
                        help="tiny model, data and budget: finishes in seconds")
    parser.add_argument("--embedding-size", type=int)
    parser.add_argument("--hidden-size", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seconds", type=float, help="training wall time per side")
    parser.add_argument("--poems", type=int, help="draw this many poems from the corpus")
    parser.add_argument("--val-poems", type=int, help="evaluate at most this many held-out poems")
    parser.add_argument("--val-fraction", type=float)
    parser.add_argument("--gen-len", type=int, help="characters per generated poem")
    parser.add_argument("--gen-poems", type=int, help="poems timed one at a time")
    parser.add_argument("--batch-poems", type=int, help="poems per batched generation")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--sampled-softmax", type=int, default=0,
                        help="lstmkit's side trains with a sampled softmax of this many negatives")
    parser.add_argument("--sampled-keep", type=int, default=0,
                        help="with --sampled-softmax: always score this many of the most frequent tokens")
    parser.add_argument("--lr", type=float, default=LoopConfig.lr,
                        help="lstmkit's side's peak learning rate")
    parser.add_argument("--json", dest="json_path", type=Path, help="also save the numbers here")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but PyTorch sees no CUDA GPU")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    profile = "quick" if args.quick else args.device
    values = dict(PROFILES[profile])
    for name in values:
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
    wrong = [name for name, value in values.items() if value is not None and value <= 0]
    if args.threads < 0:
        wrong.append("threads")
    if args.sampled_softmax < 0:
        wrong.append("sampled_softmax")
    if args.sampled_keep < 0:
        wrong.append("sampled_keep")
    if not args.lr > 0 or args.lr == float("inf"):
        wrong.append("lr")
    if wrong:
        options = ", ".join("--" + name.replace("_", "-") for name in wrong)
        raise SystemExit(f"Error: {options} must be positive")
    return Settings(device=args.device, profile=profile, threads=args.threads,
                    sampled_softmax=args.sampled_softmax, sampled_keep=args.sampled_keep,
                    lr=args.lr, **values)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    settings = settings_from(args)
    corpus = args.corpus or default_corpus()
    try:
        data = prepare(corpus, settings)
    except LstmkitError as exc:
        raise SystemExit(f"Error: {exc}") from exc
    results = {}
    for side in SIDES:
        print(f"{side}: training for {settings.seconds:g} s ...", file=sys.stderr, flush=True)
        results[side] = run_in_child(side, settings, data)
    python = sys.executable
    if python.startswith(str(REPO)):
        python = os.path.relpath(python, REPO)
    info = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda if settings.device == "cuda" else None,
        "device_name": results["lstmkit"]["device_name"],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([python, "bench/compare.py", *argv]),
    }
    print(render(settings, data, results, info))
    ratios = {m.key: ratio(m, results["reference"][m.key], results["lstmkit"][m.key])
              for m in METRICS if m.key in results["reference"]}
    ratios_wordlm = {m.key: ratio(m, results["wordlm"][m.key], results["lstmkit"][m.key])
                     for m in METRICS if m.key in results["wordlm"]}
    summary = {**info, "corpus": str(corpus), "settings": asdict(settings),
               "data": {"train_poems": len(data.train), "val_poems": len(data.val),
                        "vocab_size": len(data.vocab_tokens)},
               **results, "ratios": ratios, "ratios_wordlm": ratios_wordlm}
    if args.json_path:
        args.json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                  encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
