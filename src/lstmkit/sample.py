"""Stateful decoding over a torch model: temperature, top-k, top-p, and a logit hook for
constraints (what it shares with the decoder without torch is in ``decoding``).

The prompt (``<bos>`` and any start text; for a model trained on a token stream, the
start text alone, or a newline) is fed once; after that each step feeds one
token per row and carries the recurrent state, so a token costs the same at position 5
as at position 500. ``n`` samples run as one batch; rows that reached ``<eos>`` stop
counting. A ``hook`` may add a bias to the logits at every step (the poetry forms use it
to mask characters), so every decoding strategy obeys the same constraints.
"""

from __future__ import annotations

import torch

from .core.device import native_cpu_bf16
from .data.vocab import Vocab
from .decoding import Decoder, LogitsHook, Sample, poem_lines  # noqa: F401 (Sample, poem_lines lived here)
from .errors import LstmkitError
from .model import LanguageModel, State
from .sample_config import SampleConfig


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


class Generator(Decoder):
    """Samples text from a torch model; build once, call ``generate`` many times."""

    def __init__(self, model: LanguageModel, vocab: Vocab, level: str = "char",
                 mode: str = "poems"):
        super().__init__(vocab, level, mode)
        self.model = model
        self.device = next(model.parameters()).device
        self.device_type = self.device.type
        self.banned = torch.tensor(self.banned_ids, device=self.device)

    @classmethod
    def for_model(cls, loaded) -> Generator:
        """A generator for a loaded checkpoint, tokenizing as its training did."""
        config = loaded.text_config
        return cls(loaded.model, loaded.vocab, config.level, config.mode)

    def _prime(self, ids: list[int], n: int) -> tuple[torch.Tensor, State]:
        """Feed the prompt ``ids`` once; return next-token logits (n, V) and the state."""
        prompt = torch.tensor([ids], device=self.device)  # (1, T)
        logits, state = self.model(prompt)
        return logits[:, -1].float().expand(n, -1).contiguous(), _expand(state, n)

    @torch.inference_mode()
    def _generate(self, start: str, n: int, config: SampleConfig,
                  hook: LogitsHook | None, title: str, poet: str) -> list[Sample]:
        was_training = self.model.training
        self.model.eval()  # no dropout while writing; the caller's mode comes back after
        try:
            return self._decode(start, n, config, hook, title, poet)
        finally:
            self.model.train(was_training)

    def _decode(self, start: str, n: int, config: SampleConfig,
                hook: LogitsHook | None, title: str, poet: str) -> list[Sample]:
        gen = torch.Generator(device=self.device)
        if config.seed is None:
            gen.seed()
        else:
            gen.manual_seed(config.seed)
        start_tokens, prompt_ids = self._prompt(start, title, poet)  # tokenized (and warned about) once
        logits, state = self._prime(prompt_ids, n)
        guided = self.guided(config, title, poet)
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
            bias = hook(generated) if hook is not None else None
            if bias is not None:
                logits = logits + torch.from_numpy(bias).to(logits.device, logits.dtype)
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
        return self.samples(start_tokens, generated, logprob.tolist())
