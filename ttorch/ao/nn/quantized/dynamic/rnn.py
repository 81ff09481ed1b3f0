"""Dynamically quantized ``LSTM`` and ``GRU`` (``ttorch.ao.nn.quantized.dynamic``): qint8 weights, float
activations quantized per call, as PyTorch's cpu ``quantized_lstm``/``quantized_gru``: per layer and direction
the input projection runs once over the whole sequence (``linear_dynamic(x, w_ih) + b_ih``, one set of input
qparams), then each step computes ``linear_dynamic(h, w_hh) + b_hh`` and applies the gates in float32.

Each layer's weights sit in ``_all_weight_values[i].param`` (``i = layer * num_directions + direction``).
Differences from PyTorch: that ``param`` is the tuple ``(w_ih, b_ih, w_hh, b_hh)`` (PyTorch's is a TorchScript
``CellParams`` object), no PackedSequence inputs, no float16 weights, no dynamic RNN cells.
"""
import numbers

from .....nn.modules.module import Module
from .....nn.modules.container import ModuleList
from .....nn.modules.rnn import LSTM as _FloatLSTM, GRU as _FloatGRU
from ..... import _quantized as Q
from .. import _int8
from ..modules.linear import _quantize_weight


class PackedParameter(Module):
    """One layer-direction's weights ``(w_ih, b_ih, w_hh, b_hh)``, packed for the int8 GEMM."""

    def __init__(self, param):
        super().__init__()
        self.param = param

    @property
    def param(self):
        return self._param

    @param.setter
    def param(self, value):
        w_ih, b_ih, w_hh, b_hh = value
        self._param = tuple(value)
        self.packed_ih, self.packed_hh = _int8._Packed(w_ih, b_ih), _int8._Packed(w_hh, b_hh)

    def _apply(self, fn, recurse=True):
        self.param = tuple(None if t is None else fn(t) for t in self._param)
        return self

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "param"] = self.param

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        if prefix + "param" in state_dict:
            self.param = state_dict.pop(prefix + "param")
        elif strict:
            missing_keys.append(prefix + "param")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)


class RNNBase(Module):
    """What the dynamic quantized LSTM and GRU share: the packed layers, the sequence loop, ``from_float``."""

    _version = 2
    _GATES = {"LSTM": 4, "GRU": 3}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=Q.qint8):
        super().__init__()
        import ttorch
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if mode not in self._GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if dtype is not Q.qint8:
            raise RuntimeError(f"Unsupported dtype for dynamic RNN quantization: {dtype}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.dtype, self.version = bidirectional, dtype, 2
        self.training = False
        nd = 2 if bidirectional else 1
        gate = self._GATES[mode] * hidden_size
        params = []
        for layer in range(num_layers):
            for _ in range(nd):
                size_in = input_size if layer == 0 else hidden_size * nd
                w_ih = ttorch.quantize_per_tensor(ttorch.randn(gate, size_in), 0.1, 0, Q.qint8)
                w_hh = ttorch.quantize_per_tensor(ttorch.randn(gate, hidden_size), 0.1, 0, Q.qint8)
                params.append(PackedParameter((w_ih, ttorch.randn(gate), w_hh, ttorch.randn(gate))))
        self._all_weight_values = ModuleList(params)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __repr__(self):
        return f"{self._get_name()}({self.extra_repr()})"

    def _run_direction(self, x, state, p, reverse):
        """One layer-direction over the sequence ``x`` (T, N, I): the outputs (T, N, H) and the last state."""
        import ttorch
        T = x.shape[0]
        xw = _int8.linear_dynamic(x, p.packed_ih)                        # (T, N, G*H): one input quantization
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            state = self._cell(xw[t], state, p)
            outs[t] = state[0] if isinstance(state, tuple) else state
        return ttorch.stack(outs, 0), state

    def _forward(self, input, hx):
        """``output, per-layer-direction last states``; ``hx``: a list of initial states (None: zeros)."""
        import ttorch
        if input.dim() != 3:
            raise RuntimeError(f"input must have 3 dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        x = input.transpose(0, 1) if self.batch_first else input                  # (T, N, I)
        nd = 2 if self.bidirectional else 1
        states = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                k = layer * nd + d
                y, st = self._run_direction(x, hx[k], self._all_weight_values[k], d == 1)
                outs.append(y)
                states.append(st)
            x = outs[0] if nd == 1 else ttorch.cat(outs, 2)
        return (x.transpose(0, 1) if self.batch_first else x), states

    def _check_hidden(self, h, n):
        expected = (self.num_layers * (2 if self.bidirectional else 1), n, self.hidden_size)
        if tuple(h.shape) != expected:
            raise RuntimeError(f"Expected hidden size {expected}, got {list(h.shape)}")

    def _weight_bias(self):
        """``{"weight": {name: qint8 tensor}, "bias": {name: float tensor}}`` with nn.LSTM's parameter names."""
        out = {"weight": {}, "bias": {}}
        nd = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            for d in range(nd):
                sfx = "_reverse" if d == 1 else ""
                w_ih, b_ih, w_hh, b_hh = self._all_weight_values[layer * nd + d].param
                out["weight"][f"weight_ih_l{layer}{sfx}"], out["weight"][f"weight_hh_l{layer}{sfx}"] = w_ih, w_hh
                out["bias"][f"bias_ih_l{layer}{sfx}"], out["bias"][f"bias_hh_l{layer}{sfx}"] = b_ih, b_hh
        return out

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """The dynamic quantized RNN of ``mod`` (an ``nn.LSTM`` or ``nn.GRU`` with a ``qconfig``): each weight
        quantized with its own weight observer."""
        if type(mod) not in (_FloatLSTM, _FloatGRU):
            raise AssertionError("nn.quantized.dynamic.RNNBase.from_float only works for nn.LSTM and nn.GRU")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Input float module must have qconfig defined")
        if mod.qconfig is not None and mod.qconfig.weight is not None:
            make_observer = mod.qconfig.weight
        else:
            from ....quantization.qconfig import default_dynamic_qconfig
            make_observer = default_dynamic_qconfig.weight
        dtype = make_observer().dtype
        if dtype is not Q.qint8:
            raise RuntimeError(f"Unsupported dtype for dynamic RNN quantization: {dtype}")
        if not mod.bias:
            raise AssertionError("mod.bias must be True")
        q = (LSTM if type(mod) is _FloatLSTM else GRU)(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias,
                                                       mod.batch_first, mod.dropout, mod.bidirectional, dtype)

        def quantize(w):
            obs = make_observer()
            obs(w)
            return _quantize_weight(w.detach().float(), obs)

        nd = 2 if mod.bidirectional else 1
        params = []
        for layer in range(mod.num_layers):
            for d in range(nd):
                sfx = "_reverse" if d == 1 else ""
                w_ih, w_hh = getattr(mod, f"weight_ih_l{layer}{sfx}"), getattr(mod, f"weight_hh_l{layer}{sfx}")
                b_ih, b_hh = getattr(mod, f"bias_ih_l{layer}{sfx}"), getattr(mod, f"bias_hh_l{layer}{sfx}")
                params.append(PackedParameter((quantize(w_ih), b_ih.detach().clone(), quantize(w_hh),
                                               b_hh.detach().clone())))
        q._all_weight_values = ModuleList(params)
        return q


class LSTM(RNNBase):
    """A dynamically quantized LSTM (float input and states; int8 weights).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as ``nn.LSTM``.
        dtype: ``ttorch.qint8``.

    Shape:
        input: (L, N, H_in) (``batch_first``: (N, L, H_in)); ``hx``: ``(h_0, c_0)``, each
        (num_layers * num_directions, N, H_out). Returns ``output, (h_n, c_n)``.

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.nn.quantized.dynamic.LSTM(3, 4, num_layers=2)
        >>> out, (h, c) = m(ttorch.randn(5, 2, 3))
        >>> out.shape, h.shape
        (ttorch.Size([5, 2, 4]), ttorch.Size([2, 2, 4]))
    """

    _FLOAT_MODULE = _FloatLSTM

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _get_name(self):
        return "DynamicQuantizedLSTM"

    def _cell(self, xw, state, p):
        import ttorch
        h, c = state
        i, f, g, o = (_int8.linear_dynamic(h, p.packed_hh) + xw).chunk(4, 1)
        c = ttorch.sigmoid(f) * c + ttorch.sigmoid(i) * ttorch.tanh(g)
        return ttorch.sigmoid(o) * ttorch.tanh(c), c

    def forward(self, input, hx=None):
        import ttorch
        n = input.shape[0 if self.batch_first else 1] if input.dim() == 3 else 0
        if hx is None:
            zeros = ttorch.zeros(self.num_layers * (2 if self.bidirectional else 1), n, self.hidden_size,
                                 device=input.device)
            hx = (zeros, zeros)
        for s in hx:
            self._check_hidden(s, n)
        out, states = self._forward(input, [(hx[0][k], hx[1][k]) for k in range(hx[0].shape[0])])
        return out, (ttorch.stack([h for h, _ in states], 0), ttorch.stack([c for _, c in states], 0))


class GRU(RNNBase):
    """A dynamically quantized GRU (float input and state; int8 weights); arguments and shapes as ``nn.GRU``.

    Example::

        >>> import ttorch
        >>> m = ttorch.ao.nn.quantized.dynamic.GRU(3, 4, bidirectional=True)
        >>> out, h = m(ttorch.randn(5, 2, 3))
        >>> out.shape, h.shape
        (ttorch.Size([5, 2, 8]), ttorch.Size([2, 2, 4]))
    """

    _FLOAT_MODULE = _FloatGRU

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)

    def _get_name(self):
        return "DynamicQuantizedGRU"

    def _cell(self, xw, h, p):
        import ttorch
        ir, iz, in_ = xw.chunk(3, 1)
        hr, hz, hn = _int8.linear_dynamic(h, p.packed_hh).chunk(3, 1)
        r = ttorch.sigmoid(hr + ir)
        z = ttorch.sigmoid(hz + iz)
        n = ttorch.tanh(in_ + hn * r)
        return (h - n) * z + n

    def forward(self, input, hx=None):
        import ttorch
        n = input.shape[0 if self.batch_first else 1] if input.dim() == 3 else 0
        if hx is None:
            hx = ttorch.zeros(self.num_layers * (2 if self.bidirectional else 1), n, self.hidden_size,
                              device=input.device)
        self._check_hidden(hx, n)
        out, states = self._forward(input, [hx[k] for k in range(hx.shape[0])])
        return out, ttorch.stack(states, 0)
