"""Dropout that is cheap on a CPU, and a recurrent net run layer by layer to use it.

torch draws a CPU dropout mask with ``bernoulli_``, one random number per element: about
18 ms for the (64, 60, 512) activations of a Tang batch on 2 cores, and a 2-layer language
model drops three such tensors per step (the embedding, between the layers inside
``nn.LSTM``, the output), about 9% of a training step. Here the mask comes from random
64-bit words read as four 16-bit numbers each, compared with the drop probability rounded
to 1/65,536: the same Bernoulli mask, a quarter of the random numbers, a third of the time.
Other devices keep torch's own (fused) dropout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16  # a 16-bit number has this many values


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)``: each element zeroed with probability ``p`` (on a CPU
    p rounded to a multiple of 1/65,536), the rest scaled so the expectation is ``x``."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or x.numel() == 0:
        return F.dropout(x, p, training=True)
    dropped = round(p * _LEVELS)  # values below this threshold drop their element
    if dropped == 0:
        return x
    if dropped == _LEVELS:
        return x * 0.0
    n = x.numel()
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64)
    levels = words.view(torch.int16)[:n].view(x.shape)  # uniform over -32,768 .. 32,767
    keep = levels >= dropped - _LEVELS // 2
    return x * keep.to(x.dtype).mul_(_LEVELS / (_LEVELS - dropped))


class Dropout(nn.Module):
    """``nn.Dropout`` with ``dropout`` above: no parameters, nothing in the state dict."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


_RUN = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}


def run_layers(rnn: nn.RNNBase, x: torch.Tensor, state, drop: nn.Module):
    """``rnn(x, state)`` for a unidirectional ``rnn`` over unpacked input, one layer at a
    time with ``drop`` between the layers instead of the module's own dropout: the same
    weights, the same numbers without dropout."""
    lstm = rnn.mode == "LSTM"
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, x.shape[0 if rnn.batch_first else 1], rnn.hidden_size)
        state = (zeros, zeros) if lstm else zeros
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias else ("weight_ih", "weight_hh")
    finals = []
    for i in range(rnn.num_layers):
        if i:
            x = drop(x)
        weights = [getattr(rnn, f"{name}_l{i}") for name in names]
        hx = (state[0][i:i + 1], state[1][i:i + 1]) if lstm else state[i:i + 1]
        x, *final = _RUN[rnn.mode](x, hx, weights, rnn.bias, 1, 0.0, rnn.training, False,
                                   rnn.batch_first)
        finals.append(final)
    if lstm:
        return x, (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
    return x, torch.cat([f[0] for f in finals])
