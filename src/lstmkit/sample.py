"""Stateful decoding: temperature, top-k, top-p, and a logit hook for constraints.

The prompt (``<bos>`` and any start text; for a model trained on a token stream, the
start text alone, or a newline) is fed once; after that each step feeds one
token per row and carries the recurrent state, so a token costs the same at position 5
as at position 500. ``n`` samples run as one batch; rows that reached ``<eos>`` stop
counting. A ``hook`` may rewrite the logits at every step (the poetry forms use it to
mask characters), so every decoding strategy obeys the same constraints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from .core.device import native_cpu_bf16
from .data.condition import MAX_TITLE, Conditioning, title_chars
from .data.segment import join_function, tokenize
from .data.vocab import Vocab
from .errors import LstmkitError, printable
from .model import LanguageModel, State
from .sample_config import SampleConfig

log = logging.getLogger(__name__)

# hook(logits (N, V), generated ids so far per row) -> logits (N, V)
LogitsHook = Callable[[torch.Tensor, list[list[int]]], torch.Tensor]


@dataclass(frozen=True)
class Sample:
    text: str  # start text + generated text, special tokens left out
    finished: bool  # True when the model ended it with <eos>
    logprob: float  # log-likelihood of the generated tokens under the model (temperature 1)
    tokens: int  # generated tokens, <eos> included


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set to -inf every logit outside the top-k and outside the top-p nucleus. (N, V)."""
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens before it already reach top_p; the first always stays.
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


WRITING_PRECISIONS = ("auto", "fp32", "bf16", "int8")


def writing_precision(precision: str, device: torch.device, cell: str = "lstm") -> str:
    """What to write with: ``auto`` is bf16 on CUDA; on a CPU, int8 matmuls for an LSTM
    where fbgemm runs them (``model.int8_supported``: held-out perplexity within 0.05% of
    fp32, BENCHMARKS.md), else bf16 on CPUs with native bf16 arithmetic (AVX-512 BF16 or
    AMX), else fp32. (oneDNN also runs bf16 on plain AVX-512 by converting, but there one
    batched step is about 4 times slower than fp32.)"""
    from .model import int8_supported

    if precision not in WRITING_PRECISIONS:
        raise LstmkitError(f"precision must be one of {', '.join(WRITING_PRECISIONS)} (got '{precision}')")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    if device.type == "cpu" and cell == "lstm" and int8_supported():
        return "int8"
    return "bf16" if device.type == "cpu" and native_cpu_bf16() else "fp32"


def prepare_for_writing(model: LanguageModel, precision: str) -> str:
    """Put ``model`` in the precision ``writing_precision`` picks; returns it."""
    device = next(model.parameters()).device
    chosen = writing_precision(precision, device, model.config.cell)
    if chosen == "int8" and device.type != "cpu":
        raise LstmkitError("int8 writing runs on the CPU (--device cpu)")
    model.to(torch.bfloat16 if chosen == "bf16" else torch.float32)
    model.int8 = False
    if chosen == "int8":
        model.quantize_for_writing()
    return chosen


def draw(probs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One token per row of ``probs`` (N, V), by inverse CDF: a uniform number per row
    looked up in the cumulative probabilities. Same distribution as ``torch.multinomial``,
    about 20 times cheaper for one draw over a few thousand tokens on a CPU."""
    cumulative = probs.cumsum(dim=-1)  # (N, V)
    # Kept just below the total, so rounding can never land past the last possible token.
    top = cumulative[:, -1:] * (1 - 1e-6)
    u = torch.rand(probs.shape[0], 1, generator=gen, device=probs.device) * top
    return torch.searchsorted(cumulative, u, right=True)[:, 0]


def _cat(a: State, b: State) -> State:
    """Two states' rows side by side."""
    if isinstance(a, tuple):
        return tuple(torch.cat([x, y], dim=1) for x, y in zip(a, b))
    return torch.cat([a, b], dim=1)


def _guide(logits: torch.Tensor, n: int, strength: float) -> torch.Tensor:
    """From 2n rows (n with the title and poet, n without) the n rows to write with:
    log-probabilities moved away from the unconditioned ones by ``strength``."""
    given = torch.log_softmax(logits[:n], dim=-1)
    plain = torch.log_softmax(logits[n:], dim=-1)
    return given + strength * (given - plain)


def _expand(state: State, n: int) -> State:
    if isinstance(state, tuple):
        return tuple(s.expand(-1, n, -1).contiguous() for s in state)
    return state.expand(-1, n, -1).contiguous()


class Generator:
    """Samples text from a model; build once, call ``generate`` many times."""

    def __init__(self, model: LanguageModel, vocab: Vocab, level: str = "char",
                 mode: str = "poems"):
        self.model = model
        self.vocab = vocab
        self.level = level
        self.stream = mode == "stream"
        self.join = join_function(level)
        self.device = next(model.parameters()).device
        # Tokens that are never written: padding, a second <bos>, <unk>, and <eos> where
        # the model never saw one (a stream has no ends).
        # A conditioned model's <sep> and poet tokens open a poem and are never written.
        self.conditioning = Conditioning(vocab)
        banned = ([vocab.pad_id, vocab.bos_id, vocab.unk_id] + ([vocab.eos_id] if self.stream else [])
                  + self.conditioning.token_ids)
        self.banned = torch.tensor(banned, device=self.device)

    @classmethod
    def for_model(cls, loaded) -> Generator:
        """A generator for a loaded checkpoint, tokenizing as its training did."""
        config = loaded.text_config
        return cls(loaded.model, loaded.vocab, config.level, config.mode)

    def _prompt(self, start: str, title: str = "", poet: str = "") -> tuple[list[str], list[int]]:
        """The start text's tokens and the ids fed for them (after a conditioned model's
        title and poet)."""
        tokens = tokenize(start, self.level, cache=False) if start else []
        if not self.stream:  # poems: every character must be known, and <bos> opens
            head = self.conditioning.prefix(self.title_tokens(title), poet or None)
            return tokens, [*head, *self.vocab.encode(tokens, strict=True)]
        if title or poet:
            raise LstmkitError("a model of running text reads no title or poet")
        unknown = self.vocab.unknown(tokens)
        if unknown:
            log.warning("%d start token(s) outside the vocabulary, read as <unk>: %s",
                        len(unknown), " ".join(unknown[:10]))
        ids = self.vocab.encode(tokens)
        if not ids:  # nothing to continue: start as after a line break, if the model knows one
            ids = [self.vocab.index.get("\n", self.vocab.unk_id)]
        return tokens, ids

    def title_tokens(self, title: str) -> list[str]:
        """A title as the model reads it; one it cannot read is an error."""
        if not title:
            return []
        kept = title_chars(title)
        if not kept:
            raise LstmkitError(f"title '{printable(title)}' has no Chinese characters")
        if len(kept) > MAX_TITLE:
            raise LstmkitError(f"title '{printable(title)}' is longer than {MAX_TITLE} characters")
        return tokenize(kept, self.level, cache=False)

    def _prime(self, ids: list[int], n: int) -> tuple[torch.Tensor, State]:
        """Feed the prompt ``ids`` once; return next-token logits (n, V) and the state."""
        prompt = torch.tensor([ids], device=self.device)  # (1, T)
        logits, state = self.model(prompt)
        return logits[:, -1].float().expand(n, -1).contiguous(), _expand(state, n)

    @torch.inference_mode()
    def generate(self, start: str = "", n: int = 1, config: SampleConfig = SampleConfig(),
                 hook: LogitsHook | None = None, title: str = "", poet: str = "") -> list[Sample]:
        """``n`` continuations of ``start``, each until ``<eos>`` or ``config.max_len`` tokens;
        a model trained with titles and poets (``data.condition``) writes to ``title`` in
        the manner of ``poet``."""
        if n < 1:
            raise LstmkitError(f"n must be at least 1 (got {n})")
        was_training = self.model.training
        self.model.eval()  # no dropout while writing; the caller's mode comes back after
        try:
            return self._generate(start, n, config, hook, title, poet)
        finally:
            self.model.train(was_training)

    def _generate(self, start: str, n: int, config: SampleConfig,
                  hook: LogitsHook | None, title: str, poet: str) -> list[Sample]:
        gen = torch.Generator(device=self.device)
        if config.seed is None:
            gen.seed()
        else:
            gen.manual_seed(config.seed)
        start_tokens, prompt_ids = self._prompt(start, title, poet)  # tokenized (and warned about) once
        logits, state = self._prime(prompt_ids, n)
        # Guided: n more rows read the same poems without the title and poet; each step
        # moves the written rows' logits away from theirs (see ``_guide``).
        guided = bool(config.guidance and (title or poet) and self.conditioning.active)
        if guided:
            plain, plain_state = self._prime(self._prompt(start)[1], n)
            logits, state = torch.cat([logits, plain]), _cat(state, plain_state)
        eos = self.vocab.eos_id
        generated: list[list[int]] = [[] for _ in range(n)]
        logprob = torch.zeros(n, dtype=torch.float64, device=self.device)
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        for _ in range(config.max_len):
            view = logits[:n] if guided else logits  # the model's own view (with the title)
            if guided:
                logits = _guide(logits, n, config.guidance)
            log_probs = torch.log_softmax(view, dim=-1)  # (N, V)
            logits = logits.index_fill_(-1, self.banned, float("-inf"))  # the step's own tensor
            if hook is not None:
                logits = hook(logits, generated)
            if config.temperature == 0:
                choice = logits.argmax(dim=-1)
            else:
                # From the row's maximum down, so a tiny temperature cannot overflow to inf.
                top = logits.amax(dim=-1, keepdim=True)
                scaled = filter_logits((logits - top) / config.temperature, config.top_k, config.top_p)
                choice = draw(torch.softmax(scaled, dim=-1), gen)
            choice = choice.masked_fill(done, eos)  # finished rows idle on <eos>
            logprob += torch.where(done, 0.0, log_probs.gather(1, choice[:, None])[:, 0].double())
            for row, (token, finished) in enumerate(zip(choice.tolist(), done.tolist())):
                if not finished:
                    generated[row].append(token)
            done |= choice == eos
            if bool(done.all()):
                break
            logits, state = self.model.step(torch.cat([choice, choice]) if guided else choice, state)  # (N, V)
            logits = logits.float()
        return [Sample(text=self.join(start_tokens + self.vocab.decode_tokens(ids)),
                       finished=bool(ids) and ids[-1] == eos,
                       logprob=float(lp), tokens=len(ids))
                for ids, lp in zip(generated, logprob.tolist())]

    def generate_finished(self, start: str = "", n: int = 1,
                          config: SampleConfig = SampleConfig(), hook: LogitsHook | None = None,
                          rounds: int = 5, title: str = "", poet: str = "") -> list[Sample]:
        """``n`` non-empty samples that the model ended with ``<eos>`` (whole poems).

        Unfinished samples are dropped and more are drawn, ``rounds`` batches at most;
        if too few finish, raises ``LstmkitError`` suggesting a larger ``max_len``.
        """
        kept: list[Sample] = []
        for round_ in range(rounds):
            seed = config.round_seed(round_)
            batch = self.generate(start, n - len(kept), replace(config, seed=seed), hook, title, poet)
            kept.extend(s for s in batch if s.finished and s.text)  # an empty poem is no poem
            if len(kept) == n:
                return kept
        raise LstmkitError(f"only {len(kept)} of {n} samples ended within max_len="
                           f"{config.max_len} tokens; raise --max-len")


def poem_lines(text: str) -> list[str]:
    """Split a poem into its sentences: a line ends after 。？！ or ；."""
    lines, current = [], ""
    for char in text:
        current += char
        if char in "。？！；":
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return lines
