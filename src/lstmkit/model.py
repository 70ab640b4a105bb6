"""The recurrent models: one cell switch (LSTM / GRU / RNN) under two heads.

``LanguageModel``: embedding -> N-layer recurrent net -> linear head over the vocabulary,
one prediction per step. ``forward`` takes the recurrent state and returns the new one, so
sampling feeds one token per step and training can carry state across windows.

``SequenceModel``: vectors per time step -> recurrent net (optionally bidirectional) ->
one summary per sequence (the final state, or the mean over its steps) -> linear head.
Forecasting reads the head as horizon x quantiles, classification as class scores.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .core.dropout import Dropout, run_layers
from .errors import LstmkitError
from .model_config import CELL_NAMES, POOLINGS, ModelConfig, SequenceConfig  # noqa: F401

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}  # by CELL_NAMES
_INITS = ("uniform_", "normal_", "kaiming_uniform_", "xavier_uniform_", "zeros_", "ones_")


@contextmanager
def weights_to_be_loaded():
    """Build modules without drawing their initial weights, for a caller that fills every
    one from a file next (about 0.1 s for the bundled Tang model). torch.nn.init's drawing
    functions do nothing inside; not for use while another thread builds a model."""
    saved = {name: getattr(nn.init, name) for name in _INITS}
    try:
        for name in _INITS:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)

# LSTM state is (h, c), each (layers, B, H); GRU and RNN state is h alone.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class LanguageModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        e, h, v = config.embedding_size, config.hidden_size, config.vocab_size
        self.embedding = nn.Embedding(v, e)
        self.drop = Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            e, h, config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        # A tied head reads vectors of the embedding's size: project down when h != e.
        self.project = nn.Linear(h, e, bias=False) if config.tie_weights and h != e else None
        self.head = nn.Linear(e if config.tie_weights else h, v)
        if config.tie_weights:
            self.head.weight = self.embedding.weight
        self.int8 = False  # write (step, and forward without grad) with int8 matmuls: quantize_for_writing
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.embedding.weight, std=0.05)
        nn.init.zeros_(self.head.bias)
        if not self.config.tie_weights:
            nn.init.normal_(self.head.weight, std=0.05)

    def forward(self, tokens: torch.Tensor, state: State | None = None, head: bool = True
                ) -> tuple[torch.Tensor, State]:
        """``tokens`` (B, T) ids -> logits (B, T, V) and the state after the last step;
        with ``head=False`` the vectors the head reads (B, T, E) instead of the logits (a
        sampled softmax scores them against a few rows of the head).
        Quantized for writing (and not training), it runs ``step`` over the tokens, so
        scoring measures exactly the numbers that write."""
        if self._int8_active() and head:
            if state is None:
                zeros = torch.zeros(self.config.layers, tokens.shape[0], self.config.hidden_size)
                state = (zeros, zeros.clone())
            steps = []
            for t in range(tokens.shape[1]):
                logits, state = self.step(tokens[:, t], state)
                steps.append(logits)
            return torch.stack(steps, dim=1), state
        x = self.drop(self.embedding(tokens))  # (B, T, E)
        if self.training and self.config.layers > 1 and self.config.dropout and x.device.type == "cpu":
            out, state = run_layers(self.rnn, x, state, self.drop)  # the cheaper CPU dropout
        else:
            out, state = self.rnn(x, state)  # (B, T, H)
        out = self.drop(out)
        if self.project is not None:
            out = self.project(out)  # (B, T, E)
        return (self.head(out) if head else out), state

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One token per row, for writing: ``tokens`` (N,) ids -> logits (N, V) and the state.

        The same numbers as ``forward`` on (N, 1) without dropout. An LSTM runs each layer
        as one matmul over ``[x, h]`` with weights fused once (and again only after they
        change): a single step through ``nn.LSTM`` costs more in call overhead than in math.
        """
        if self.config.cell != "lstm" or self.training or torch.is_grad_enabled():
            logits, state = self.forward(tokens[:, None], state)
            return logits[:, 0], state
        h, c = state  # each (L, N, H)
        x = self.embedding(tokens)  # (N, E)
        hs, cs = [], []
        fused = self._fused_lstm()
        packed = self._int8_weights(fused) if self.int8 else None
        for layer, (weight, bias) in enumerate(fused):
            xh = torch.cat([x, h[layer]], dim=1)
            gates = (int8_linear(xh, packed[layer]) if packed
                     else torch.addmm(bias, xh, weight))  # (N, 4H)
            i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
            c_new = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
            x = torch.sigmoid(o) * torch.tanh(c_new)
            hs.append(x)
            cs.append(c_new)
        if self.project is not None:
            x = int8_linear(x, packed[-2]) if packed else self.project(x)
        logits = int8_linear(x, packed[-1]) if packed else self.head(x)
        return logits, (torch.stack(hs), torch.stack(cs))

    def quantize_for_writing(self) -> None:
        """Write with int8 matmuls (``int8_supported``): each LSTM layer's fused gates, the
        projection before a tied head (when the hidden size differs) and the head, weights
        quantized per output row, activations per call (dynamic quantization, fbgemm).
        About 3 times faster than fp32 for a batch of 256 rows on an AVX-512 CPU;
        BENCHMARKS.md has the perplexity it costs. fp32 weights only."""
        if self.config.cell != "lstm" or not int8_supported():
            raise LstmkitError("int8 writing needs an LSTM on an x86 CPU with fbgemm")
        if next(self.parameters()).dtype != torch.float32:
            raise LstmkitError("int8 writing starts from fp32 weights")
        self.int8 = True
        self._int8_weights(self._fused_lstm())

    def _int8_active(self) -> bool:
        return self.int8 and not self.training and not torch.is_grad_enabled()

    def _int8_weights(self, fused: list[tuple[torch.Tensor, torch.Tensor]]) -> list:
        """Per layer the packed ``fused`` gate weights (``_fused_lstm``'s), then the packed
        projection (None without one), then the packed head; cached like them."""
        head, project = self.head, self.project
        key = (self._fused_key, head.weight.data_ptr(), head.weight._version, head.bias._version,
               None if project is None else (project.weight.data_ptr(), project.weight._version))
        if getattr(self, "_int8_key", None) != key:
            self._int8 = [int8_pack(weight.t(), bias) for weight, bias in fused]
            self._int8.append(None if project is None else int8_pack(project.weight, None))
            self._int8.append(int8_pack(head.weight, head.bias))
            self._int8_key = key
        return self._int8

    def _fused_lstm(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer ``[W_ih; W_hh]^T`` (E+H, 4H) and ``b_ih + b_hh``, cached until the
        weights change (a new dtype, device or optimizer step)."""
        key = tuple((w.data_ptr(), w.dtype, w._version) for w in self.rnn._flat_weights)
        if getattr(self, "_fused_key", None) != key:
            rnn = self.rnn
            self._fused = [
                (torch.cat([getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")],
                           dim=1).t().contiguous(),
                 getattr(rnn, f"bias_ih_l{k}") + getattr(rnn, f"bias_hh_l{k}"))
                for k in range(self.config.layers)]
            self._fused_key = key
        return self._fused

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def int8_supported() -> bool:
    """Whether this torch can run dynamic int8 linears fast here (fbgemm, x86 CPUs)."""
    return "fbgemm" in torch.backends.quantized.supported_engines


def int8_pack(weight: torch.Tensor, bias: torch.Tensor | None):
    """``weight`` (out, in) quantized symmetrically per output row to int8, packed for
    ``int8_linear`` with ``bias``."""
    weight = weight.detach().float()
    scale = (weight.abs().amax(dim=1) / 127).clamp(min=1e-12).double()
    zero = torch.zeros(weight.shape[0], dtype=torch.long)
    with warnings.catch_warnings():  # torch calls its quantized tensors deprecated
        warnings.simplefilter("ignore")
        quantized = torch.quantize_per_channel(weight, scale, zero, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(
        quantized, None if bias is None else bias.detach().float())


def int8_linear(x: torch.Tensor, packed) -> torch.Tensor:
    """``x @ weight.T + bias`` for ``int8_pack``'s weight; ``x`` is quantized per call."""
    return torch.ops.quantized.linear_dynamic(x, packed, True)  # 7-bit activations: safe without VNNI


class SequenceModel(nn.Module):
    """Reads a sequence of vectors and returns ``output_size`` numbers for it."""

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.config = config
        self.rnn = CELLS[config.cell](
            config.input_size, config.hidden_size, config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
            bidirectional=config.bidirectional)
        self.drop = nn.Dropout(config.dropout)  # one (B, D*H) summary: torch's costs nothing
        directions = 2 if config.bidirectional else 1
        self.head = nn.Linear(directions * config.hidden_size, config.output_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, T, F), padded after each sequence's ``lengths`` (B,) steps if given
        -> (B, output_size). Padding never reaches the state: the batch is packed."""
        if lengths is None:
            out, state = self.rnn(x)  # (B, T, D*H)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        if self.config.pooling == "mean":
            if lengths is None:
                summary = out.mean(dim=1)
            else:
                steps = torch.arange(x.shape[1], device=x.device)[None, :, None]  # (1, T, 1)
                valid = steps < lengths.to(x.device)[:, None, None]  # (B, T, 1)
                summary = (out * valid).sum(dim=1) / lengths.to(out)[:, None]
        else:
            h = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            # The last layer's final state; a bidirectional net joins both directions'.
            summary = (torch.cat([h[-2], h[-1]], dim=1) if self.config.bidirectional
                       else h[-1])  # (B, D*H)
        return self.head(self.drop(summary))
