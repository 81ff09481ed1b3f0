"""``ttorch.ao.nn.quantized.dynamic``: modules whose weights are int8 and whose activations are quantized on
the fly, per call (float in, float out)."""
from .linear import Linear
from .rnn import LSTM, GRU

__all__ = ["Linear", "LSTM", "GRU"]
