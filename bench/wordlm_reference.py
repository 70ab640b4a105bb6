"""The PyTorch word-language-model example's recipe, re-implemented, as a second reference.

    python bench/wordlm_reference.py --seconds 120 [--corpus tang.jsonl] [--model DIR ...]
                                     [--json FILE]

What the example does (github.com/pytorch/examples, ``word_language_model``), written
here from its description and not from its code:

- the text is one token stream (here: each training poem's characters, then ``<eos>``);
  the dictionary holds every token of the training and held-out text;
- embedding -> dropout -> 2-layer LSTM (dropout between layers) -> dropout -> linear head
  tied to the embedding; weights uniform in +-0.1, head bias zero;
- the stream is cut into ``--batch-size`` (20) stripes and read in ``--bptt`` (35) token
  windows with the state carried and detached between windows;
- plain SGD at learning rate 20, gradient norm clipped at 0.25, fp32; after an epoch
  whose held-out loss is no better, the learning rate is divided by 4.

Training stops after ``--seconds`` of wall time (the last epoch cut short), and the best
model by held-out loss is the one scored.

Scoring is on **identical tokens** for every model: the held-out poems of lstmkit's split
(``split_of`` on the poem text, 5%) whose characters are all in the vocabulary of every
``--model`` given; each poem's characters and its ``<eos>`` are predicted. The reference
reads them as one stream of batch 1 (an ``<eos>`` first, so the first poem is predicted
like the rest), which gives it the preceding poems as context; an lstmkit model reads each
poem from ``<bos>`` (a conditioned model given no title: ``<bos> <sep>``, and with
``--given title`` its real title as well).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

from lstmkit.data.corpus import CleanConfig, load_poems, split_poems

EOS = "<eos>"


class WordLM(nn.Module):
    def __init__(self, vocab: int, size: int = 512, layers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.embedding = nn.Embedding(vocab, size)
        self.rnn = nn.LSTM(size, size, layers, dropout=dropout)  # (T, B, E): sequence first
        self.head = nn.Linear(size, vocab)
        self.head.weight = self.embedding.weight
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)

    def forward(self, tokens, state):
        out, state = self.rnn(self.drop(self.embedding(tokens)), state)
        return self.head(self.drop(out)), state


def stream_of(texts: list[str], index: dict[str, int], lead: bool = False) -> torch.Tensor:
    ids = [index[EOS]] if lead else []
    for text in texts:
        ids.extend(index[c] for c in text)
        ids.append(index[EOS])
    return torch.tensor(ids, dtype=torch.long)


def stripes(stream: torch.Tensor, batch: int) -> torch.Tensor:
    """(N // batch, batch): the stream cut into ``batch`` columns read side by side."""
    rows = len(stream) // batch
    return stream[: rows * batch].view(batch, rows).t().contiguous()


def detach(state):
    return tuple(s.detach() for s in state)


def run_epoch(model, data, bptt, lr, clip, deadline, device) -> tuple[bool, int]:
    """One pass over ``data`` (T, B): whether it finished before the deadline, and the
    tokens it trained on."""
    model.train()
    state = None
    loss_fn = nn.CrossEntropyLoss()
    tokens = 0
    for i in range(0, data.shape[0] - 1, bptt):
        if time.perf_counter() >= deadline:
            return False, tokens
        n = min(bptt, data.shape[0] - 1 - i)
        inputs, targets = data[i:i + n].to(device), data[i + 1:i + 1 + n].to(device)
        model.zero_grad()
        logits, state = model(inputs, state)
        state = detach(state)
        loss = loss_fn(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        tokens += targets.numel()
    return True, tokens


@torch.inference_mode()
def stream_nll(model, stream: torch.Tensor, bptt: int, device) -> tuple[float, int]:
    """Summed loss (nats) and count over every token after the first, batch 1."""
    model.eval()
    data = stream.view(-1, 1)
    nll, count, state = 0.0, 0, None
    for i in range(0, data.shape[0] - 1, bptt):
        n = min(bptt, data.shape[0] - 1 - i)
        inputs, targets = data[i:i + n].to(device), data[i + 1:i + 1 + n].to(device)
        logits, state = model(inputs, state)
        nll += float(nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                                                 reduction="sum"))
        count += n
    return nll, count


def fit(model, train, val, seconds: float, device, lr: float = 20.0, bptt: int = 35,
        clip: float = 0.25, report=None) -> dict:
    """The recipe's loop: epochs over ``train`` (T, B) until ``seconds`` are spent (the last
    cut short), the held-out loss on the ``val`` stream after each, the learning rate ÷ 4
    after an epoch no better than the best. Returns the log rows (each also passed to
    ``report``), tokens and steps trained, the training seconds (to the end of the last
    epoch, the evaluations between epochs included) and the best model's state."""
    best, best_state, epochs, rows, tokens, steps = math.inf, None, 0, [], 0, 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        finished, trained = run_epoch(model, train, bptt, lr, clip, deadline, device)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        tokens += trained
        steps += -(-trained // (train.shape[1] * bptt))
        epochs += finished
        nll, count = stream_nll(model, val, bptt, device)
        loss = nll / count
        rows.append({"epoch": epochs + (0 if finished else 1), "complete": finished,
                     "seconds": round(elapsed, 1), "val_ppl": math.exp(loss), "lr": lr})
        if report is not None:
            report(rows[-1])
        if loss < best:
            best, best_state = loss, {k: v.clone() for k, v in model.state_dict().items()}
        else:
            lr /= 4
        if not finished:
            return {"epochs": rows, "tokens": tokens, "steps": steps, "seconds": elapsed,
                    "best_state": best_state}


def train_reference(train_texts, val_texts, args, device) -> tuple[WordLM, dict, dict]:
    chars = sorted({c for t in train_texts + val_texts for c in t})
    index = {c: i for i, c in enumerate([*chars, EOS])}
    torch.manual_seed(args.seed)
    model = WordLM(len(index)).to(device)
    train = stripes(stream_of(train_texts, index), args.batch_size)
    val = stream_of(val_texts, index, lead=True)
    run = fit(model, train, val, args.seconds, device, args.lr, args.bptt, args.clip,
              report=lambda row: print(json.dumps(row), flush=True))
    model.load_state_dict(run["best_state"])
    return model, index, {"epochs": run["epochs"], "train_tokens": train.numel(), "vocab": len(index)}


def score_lstmkit(folder: str, texts: list[str], poems, given: str, device) -> tuple[float, int]:
    from lstmkit.data.text import poem_tokens, scoring_poems
    from lstmkit.tasks.lm import evaluate, load_model

    loaded = load_model(folder, device)
    config = loaded.text_config
    batches = scoring_poems(poems, poem_tokens(texts, config.level, config.reverse),
                            loaded.vocab, config, given if config.condition else "none")
    result = evaluate(loaded.model, batches, torch.device(device))
    return result.nll, result.tokens


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="../shared/data/tang.jsonl")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--lr", type=float, default=20.0)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--model", action="append", default=[], help="lstmkit model folders to score")
    parser.add_argument("--given", choices=("none", "title"), action="append",
                        help="what conditioned models are told (default: none)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    poems, _ = load_poems(args.corpus, CleanConfig())
    train_poems, val_poems = split_poems(poems, args.val_fraction)
    train_texts, val_texts = [p.text for p in train_poems], [p.text for p in val_poems]
    known = val_poems
    if args.model:
        from lstmkit.data.vocab import Vocab

        vocabs = [Vocab.load(Path(m) / "vocab.json") for m in args.model]
        known = [p for p in val_poems if all(all(c in v for c in p.text) for v in vocabs)]
    texts = [p.text for p in known]
    result = {"corpus": args.corpus, "device": torch.cuda.get_device_name() if args.device == "cuda"
              else "cpu", "heldout_poems": len(texts), "of_val_poems": len(val_texts),
              "tokens": sum(len(t) + 1 for t in texts), "settings": {k: v for k, v in vars(args).items()
                                                                      if k not in ("json", "model")}}
    if args.seconds > 0:
        model, index, info = train_reference(train_texts, val_texts, args, args.device)
        nll, count = stream_nll(model, stream_of(texts, index, lead=True), args.bptt, args.device)
        assert count == result["tokens"]
        result["reference"] = {**info, "ppl": math.exp(nll / count)}
    for folder in args.model:
        for given in args.given or ["none"]:
            nll, count = score_lstmkit(folder, texts, known, given, args.device)
            assert count == result["tokens"], (count, result["tokens"])
            result.setdefault("models", []).append({"model": folder, "given": given,
                                                    "ppl": math.exp(nll / count)})
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
