"""Writing without torch: an LSTM language model's one-token step and the decoding loop in
NumPy, over the weights in its folder, in fp32.

``import torch`` alone takes about a second on a small CPU, longer than a poem takes to
write, so a one-off ``lstmkit poem`` reads the model with ``load_numpy`` and writes with
``NumpyGenerator``: the same prompt, hooks, temperature, top-k, top-p, guidance and draws
as ``sample.Generator`` (``decoding`` holds what they share), over the same numbers as its
fp32 path, so a seed writes the same text (tests/test_sample_numpy.py). Batched writing and
serving stay on torch, whose int8 matmuls are several times faster per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core.model_files import WEIGHTS, read_arrays, read_config
from .data.text_config import TextConfig
from .data.vocab import VOCAB_FILE, Vocab
from .decoding import Decoder, LogitsHook, Sample, TorchUniforms
from .errors import CheckpointError, LstmkitError
from .model_config import ModelConfig
from .sample_config import SampleConfig

READABLE_DTYPES = ("F16", "F32")  # NumPy has no bf16


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # no overflow for large |x|, unlike 1 / (1 + exp(-x))


def log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class NumpyLM:
    """An LSTM language model's weights in fp32, fused as ``LanguageModel.step`` fuses them:
    per layer ``[W_ih; W_hh]^T`` (E+H, 4H) and ``b_ih + b_hh``, the projection and the head
    transposed for ``x @ W``."""

    def __init__(self, arrays: dict[str, np.ndarray], settings: ModelConfig, where: str):
        def get(name: str, shape: tuple[int, ...]) -> np.ndarray:  # as stored: fp16 or fp32
            value = arrays.get(name)
            if value is None or value.shape != shape:
                found = "missing" if value is None else f"of shape {tuple(value.shape)}"
                raise CheckpointError(f"'{where}' does not match its config: {name} is {found}, "
                                      f"expected {shape}")
            if not np.isfinite(value).all():
                raise CheckpointError(f"'{where}' holds NaN or infinite weights in {name}")
            return value

        def transposed(*parts: np.ndarray) -> np.ndarray:
            """The parts' transposes stacked, in fp32, converted as they are copied."""
            out = np.empty((sum(p.shape[1] for p in parts), parts[0].shape[0]), dtype=np.float32)
            row = 0
            for part in parts:
                out[row:row + part.shape[1]] = part.T
                row += part.shape[1]
            return out

        v, e, h = settings.vocab_size, settings.embedding_size, settings.hidden_size
        self.layers, self.hidden = settings.layers, h
        self.embedding = get("embedding.weight", (v, e))  # (V, E), looked up and then converted
        self.fused = []
        width = e
        for k in range(self.layers):
            bias = (get(f"rnn.bias_ih_l{k}", (4 * h,)).astype(np.float32)
                    + get(f"rnn.bias_hh_l{k}", (4 * h,)).astype(np.float32))
            self.fused.append((transposed(get(f"rnn.weight_ih_l{k}", (4 * h, width)),
                                          get(f"rnn.weight_hh_l{k}", (4 * h, h))), bias))
            width = h  # weights (width + H, 4H): x @ W runs faster than x @ W.T for a few rows
        tied = settings.tie_weights
        self.project = (transposed(get("project.weight", (e, h)))  # (H, E)
                        if tied and h != e else None)
        self.head = transposed(self.embedding if tied else get("head.weight", (v, h)))  # (., V)
        self.head_bias = get("head.bias", (v,)).astype(np.float32)

    def step(self, tokens: np.ndarray, state: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """``tokens`` (N,) ids -> logits (N, V) and the new state ((L, N, H) each)."""
        h, c = state
        x = self.embedding[tokens].astype(np.float32)  # (N, E)
        hs, cs = [], []
        for layer, (weight, bias) in enumerate(self.fused):
            gates = np.concatenate([x, h[layer]], axis=1) @ weight + bias  # (N, 4H)
            i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's gate order
            c_new = sigmoid(f) * c[layer] + sigmoid(i) * np.tanh(g)
            x = sigmoid(o) * np.tanh(c_new)
            hs.append(x)
            cs.append(c_new)
        if self.project is not None:
            x = x @ self.project
        return x @ self.head + self.head_bias, (np.stack(hs), np.stack(cs))

    def prime(self, ids: list[int], n: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Feed the prompt ``ids`` once; next-token logits (n, V) and the state, n rows."""
        zeros = np.zeros((self.layers, 1, self.hidden), dtype=np.float32)
        state = (zeros, zeros)
        for token in ids:
            logits, state = self.step(np.array([token]), state)
        return (np.repeat(logits, n, axis=0),
                tuple(np.repeat(s, n, axis=1) for s in state))


@dataclass
class NumpyLoaded:
    """A language model read without torch (``load_numpy``): what ``tasks.lm.Loaded``
    gives a decoder."""

    model: NumpyLM
    vocab: Vocab
    meta: dict

    @property
    def text_config(self) -> TextConfig:
        return TextConfig.from_checkpoint(self.meta)


def numpy_readable(folder: str | Path) -> bool:
    """Whether ``load_numpy`` can read the model in ``folder``: a language model with an
    LSTM, in fp16 or fp32. Anything else (or a folder that is not one) is torch's to load
    and, where wrong, to explain."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    try:
        config = read_config(folder, needs=(VOCAB_FILE,))
        with safe_open(folder / WEIGHTS, framework="numpy") as weights:  # the header alone
            dtypes = {weights.get_slice(name).get_dtype()
                      for name in weights.keys()}  # noqa: SIM118 (safe_open is no mapping)
    except (CheckpointError, SafetensorError, OSError, ValueError):
        return False
    return (config["task"] == "lm" and config["model"].get("cell", "lstm") == "lstm"
            and dtypes <= set(READABLE_DTYPES))


def load_numpy(folder: str | Path) -> NumpyLoaded:
    """The language model in ``folder``, its weights as fp32 NumPy arrays (an LSTM)."""
    folder = Path(folder)
    config = read_config(folder, needs=(VOCAB_FILE,))
    vocab = Vocab.load(folder / VOCAB_FILE)
    try:
        settings = ModelConfig.from_dict(config["model"])
    except (TypeError, LstmkitError) as exc:
        raise CheckpointError(f"'{folder / 'config.json'}' has invalid model settings: {exc}") from exc
    if settings.cell != "lstm":
        raise CheckpointError(f"'{folder}' holds a {settings.cell}: NumPy writes LSTMs")
    if settings.vocab_size != len(vocab):
        raise CheckpointError(f"'{folder}': config says {settings.vocab_size} tokens, "
                              f"vocab.json has {len(vocab)}")
    return NumpyLoaded(NumpyLM(read_arrays(folder / WEIGHTS), settings, str(folder / WEIGHTS)),
                       vocab, config)


def filter_logits(logits: np.ndarray, top_k: int = 0, top_p: float = 1.0) -> np.ndarray:
    """``sample.filter_logits`` in NumPy: -inf outside the top-k and the top-p nucleus."""
    width = logits.shape[-1]
    if top_k and top_k < width:
        kth = np.partition(logits, width - top_k, axis=-1)[:, width - top_k, None]  # (N, 1)
        logits = np.where(logits < kth, -np.inf, logits).astype(np.float32)
    if top_p < 1.0:
        order = np.argsort(-logits, axis=-1, kind="stable")
        probs = softmax(np.take_along_axis(logits, order, axis=-1))
        # Drop a token when the tokens before it already reach top_p; the first always stays.
        drop_sorted = (probs.cumsum(axis=-1) - probs) >= top_p
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        logits = np.where(drop, -np.inf, logits).astype(np.float32)
    return logits


def draw(probs: np.ndarray, uniforms: TorchUniforms) -> np.ndarray:
    """``sample.draw`` in NumPy: one token per row by inverse CDF, from the same numbers."""
    cumulative = probs.cumsum(axis=-1, dtype=np.float64).astype(np.float32)  # as torch sums
    top = cumulative[:, -1:] * np.float32(1 - 1e-6)
    u = uniforms.rand(len(probs))[:, None] * top
    return (cumulative <= u).sum(axis=-1)  # searchsorted(right=True) on each sorted row


class NumpyGenerator(Decoder):
    """``sample.Generator``'s decoding over a ``NumpyLM``."""

    def __init__(self, model: NumpyLM, vocab: Vocab, level: str = "char", mode: str = "poems"):
        super().__init__(vocab, level, mode)
        self.model = model

    @classmethod
    def for_model(cls, loaded: NumpyLoaded) -> NumpyGenerator:
        config = loaded.text_config
        return cls(loaded.model, loaded.vocab, config.level, config.mode)

    def _generate(self, start: str, n: int, config: SampleConfig,
                  hook: LogitsHook | None, title: str, poet: str) -> list[Sample]:
        uniforms = TorchUniforms(config.seed)
        start_tokens, prompt_ids = self._prompt(start, title, poet)
        logits, (h, c) = self.model.prime(prompt_ids, n)
        guided = self.guided(config, title, poet)
        if guided:
            plain, (h2, c2) = self.model.prime(self._prompt(start)[1], n)
            logits, h, c = (np.concatenate(pair, axis=a) for pair, a in
                            (((logits, plain), 0), ((h, h2), 1), ((c, c2), 1)))
        eos, rows = self.vocab.eos_id, np.arange(n)
        generated: list[list[int]] = [[] for _ in range(n)]
        logprob = np.zeros(n, dtype=np.float64)
        done = np.zeros(n, dtype=bool)
        for _ in range(config.max_len):
            view = logits[:n] if guided else logits  # the model's own view (with the title)
            log_probs = log_softmax(view)  # (N, V)
            if guided:
                plain = log_softmax(logits[n:])
                logits = log_probs + np.float32(config.guidance) * (log_probs - plain)
            logits[:, self.banned_ids] = -np.inf  # the step's own array
            bias = hook(generated) if hook is not None else None
            if bias is not None:
                logits += bias
            if config.temperature == 0:
                choice = logits.argmax(axis=-1)
            else:
                top = logits.max(axis=-1, keepdims=True)
                scaled = filter_logits((logits - top) / np.float32(config.temperature),
                                       config.top_k, config.top_p)
                choice = draw(softmax(scaled), uniforms)
            choice[done] = eos  # finished rows idle on <eos>
            logprob += np.where(done, 0.0, log_probs[rows, choice].astype(np.float64))
            for row, (token, finished) in enumerate(zip(choice.tolist(), done.tolist())):
                if not finished:
                    generated[row].append(token)
            done |= choice == eos
            if done.all():
                break
            feed = np.concatenate([choice, choice]) if guided else choice
            logits, (h, c) = self.model.step(feed, (h, c))
        return self.samples(start_tokens, generated, logprob.tolist())


def generator_for(loaded):
    """The decoder for a loaded language model: ``NumpyGenerator`` for one read without
    torch (``NumpyLoaded``), else ``sample.Generator``."""
    if isinstance(loaded, NumpyLoaded):
        return NumpyGenerator.for_model(loaded)
    from .sample import Generator

    return Generator.for_model(loaded)
