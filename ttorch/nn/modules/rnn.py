"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's parameter names.

``RNN``, ``LSTM`` and ``GRU`` take a padded tensor or a ``nn.utils.rnn.PackedSequence`` (and then
return one): packed sequences run padded, each sequence's state frozen past its length.
"""
import math
import numbers
import warnings

import numpy as np

from ... import _tensor
from ...ops.creation import empty, zeros
from .. import init
from ..functional import rnn as _F
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_tensor(input, name):
    if not isinstance(input, _tensor.Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor or a PackedSequence, got {type(input).__name__}")


def _is_packed(input):
    from ..utils.rnn import PackedSequence
    return isinstance(input, PackedSequence)


class RNNBase(Module):
    r"""Base of ``RNN``, ``LSTM`` and ``GRU``: parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` with ``proj_size``), suffixed
    ``_reverse`` for the backward direction, all drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
    """

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)

        gate_size = _GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                shapes = [(gate_size, layer_input_size), (gate_size, real_hidden_size)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(empty(shape, **kw)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def _flat_weights(self):
        # read by name on every call, so .to() / load_state_dict(assign=True) are always seen
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """No-op: ttorch keeps no cuDNN flat weight buffer."""

    # ----------------------------------------------------------------------------- checks
    def check_input(self, input, batch_sizes=None):
        w_dtype = self._flat_weights[0].dtype
        if input.dtype != w_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w_dtype}). "
                             f"Convert input: input.to({w_dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes=None):
        mini_batch = int(batch_sizes[0]) if batch_sizes is not None else \
            input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, h_out)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    # ---------------------------------------------------------------------------- forward
    def _packed(self, input, hx):
        """A PackedSequence through the layers: padded (sorted order), masked past each length, packed
        again; ``hx`` and the final state in the caller's batch order."""
        from ..utils.rnn import PackedSequence, _packed_to_padded, _padded_to_packed
        data, batch_sizes, sorted_indices, unsorted_indices = input
        is_lstm = self.mode == "LSTM"
        batch = int(batch_sizes[0])
        if hx is None:
            h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
            z = zeros((self.num_layers * (2 if self.bidirectional else 1), batch, h_out), dtype=data.dtype,
                      device=data.device)
            hx = (z, zeros(z.shape[:2] + (self.hidden_size,), dtype=data.dtype, device=data.device)) if is_lstm else z
        elif sorted_indices is not None:
            hx = tuple(h.index_select(1, sorted_indices) for h in hx) if is_lstm else hx.index_select(1, sorted_indices)
        self.check_forward_args(data, hx, batch_sizes)
        padded = _packed_to_padded(data, batch_sizes)                            # (T, B, H_in)
        steps = _tensor.Tensor._wrap_np(
            (np.arange(batch)[None, :] < np.asarray(batch_sizes.tolist())[:, None])[..., None])
        mask = steps.to(data.device)                                             # (T, B, 1) bool
        output, hidden = _F._rnn(self.mode, padded, hx, self._flat_weights, self.bias, self.proj_size > 0,
                                 self.num_layers, self.dropout, self.training, self.bidirectional, mask=mask)
        if unsorted_indices is not None:
            hidden = tuple(h.index_select(1, unsorted_indices) for h in hidden) if is_lstm else \
                hidden.index_select(1, unsorted_indices)
        packed = PackedSequence(_padded_to_packed(output, batch_sizes), batch_sizes, sorted_indices,
                                unsorted_indices)
        return packed, hidden

    def _prepare(self, input, name):
        """Shared entry: type and rank checks, unbatched input gets a batch dim of 1."""
        _check_tensor(input, name)
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                             + ("tensor instead" if name == "RNN" else "instead"))
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        return input, is_batched, batch_dim

    def _run(self, input, hx):
        x = input.transpose(0, 1) if self.batch_first else input  # (T, N, H_in)
        output, hidden = _F._rnn(self.mode, x, hx, self._flat_weights, self.bias, self.proj_size > 0,
                                 self.num_layers, self.dropout, self.training, self.bidirectional)
        if self.batch_first:
            output = output.transpose(0, 1)  # (N, T, D*H_out)
        return output, hidden

    def _zeros(self, input, size):
        n = input.size(0) if self.batch_first else input.size(1)
        return zeros((self.num_layers * (2 if self.bidirectional else 1), n, size), dtype=input.dtype,
                     device=input.device)

    def _rnn_forward(self, input, hx, name):
        """RNN and GRU: one state tensor."""
        if _is_packed(input):
            return self._packed(input, hx)
        input, is_batched, batch_dim = self._prepare(input, name)
        if hx is not None:
            if not is_batched:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
            elif hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        else:
            hx = self._zeros(input, self.hidden_size)
        self.check_forward_args(input, hx)
        output, hidden = self._run(input, hx)
        if not is_batched:
            output, hidden = output.squeeze(batch_dim), hidden.squeeze(1)
        return output, hidden

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)


class RNN(RNNBase):
    r"""Elman RNN: :math:`h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})` (or relu).

    Args:
        input_size, hidden_size (int), num_layers (int): stacked layers. Default: 1.
        nonlinearity (str): ``'tanh'`` or ``'relu'``. Default: ``'tanh'``.
        bias (bool), batch_first (bool): (N, L, H) tensors if True. dropout (float): between layers,
        training only. bidirectional (bool).

    Shape:
        input (L, N, H_in) / (N, L, H_in) / unbatched (L, H_in); h_0 (D*num_layers, N, H_out), optional.
        Returns output (L, N, D*H_out) and h_n (D*num_layers, N, H_out).

    Example::

        >>> out, h = RNN(10, 20, 2)(ttorch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (ttorch.Size([5, 3, 20]), ttorch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"RNN.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._rnn_forward(input, hx, "RNN")


class LSTM(RNNBase):
    r"""LSTM with PyTorch's gate order (i, f, g, o); with ``proj_size > 0``, :math:`h_t = W_{hr}(o_t \odot \tanh c_t)`.

    Args: as ``RNN`` (no ``nonlinearity``), plus ``proj_size`` (int): LSTM projections. Default: 0.

    Shape:
        input (L, N, H_in) / (N, L, H_in) / unbatched (L, H_in); optional ``(h_0, c_0)`` of shapes
        (D*num_layers, N, H_out) and (D*num_layers, N, H_cell). Returns ``output, (h_n, c_n)``,
        output (L, N, D*H_out); H_out = proj_size or hidden_size.

    Example::

        >>> out, (h, c) = LSTM(10, 20, 2)(ttorch.randn(5, 3, 10))
        >>> out.shape, h.shape, c.shape
        (ttorch.Size([5, 3, 20]), ttorch.Size([2, 3, 20]), ttorch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def get_expected_cell_size(self, input, batch_sizes=None):
        mini_batch = int(batch_sizes[0]) if batch_sizes is not None else \
            input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * (2 if self.bidirectional else 1), mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        if _is_packed(input):
            return self._packed(input, hx)
        input, is_batched, batch_dim = self._prepare(input, "LSTM")
        if hx is None:
            h_out = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(input, h_out), self._zeros(input, self.hidden_size))
        else:
            want = 3 if is_batched else 2
            if hx[0].dim() != want or hx[1].dim() != want:
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            if not is_batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx)
        output, (h_n, c_n) = self._run(input, hx)
        if not is_batched:
            output, h_n, c_n = output.squeeze(batch_dim), h_n.squeeze(1), c_n.squeeze(1)
        return output, (h_n, c_n)


class GRU(RNNBase):
    r"""GRU with PyTorch's gate order (r, z, n):
    :math:`n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`.

    Args and Shape: as ``RNN`` (no ``nonlinearity``).

    Example::

        >>> out, h = GRU(10, 20, 2)(ttorch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (ttorch.Size([5, 3, 20]), ttorch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._rnn_forward(input, hx, "GRU")


# ------------------------------------------------------------------------------------------ cells
class RNNCellBase(Module):
    r"""Base of the cells: ``weight_ih`` (G*H, H_in), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh``
    (G*H,), all from U(-1/sqrt(H), 1/sqrt(H))."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def _check(self, input, hx, label="0"):
        # ATen's check_rnn_cell_forward_input / _hidden; PyTorch names the states hidden0 (and hidden1)
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        if input.size(0) != hx.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} batch size "
                               f"{hx.size(0)}")
        if hx.size(1) != self.hidden_size:
            raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, expected "
                               f"{self.hidden_size}")

    def _single(self, input, hx, name, cell):
        """RNNCell and GRUCell: one state tensor; unbatched (H_in,) input allowed."""
        _check_tensor(input, name)
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        self._check(input, hx)
        ret = cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if is_batched else ret.squeeze(0)


class RNNCell(RNNCellBase):
    r"""One Elman step: :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})` (or relu).

    Shape: input (N, H_in) or (H_in,); hidden (N, H) or (H,), zeros if omitted; returns h' like hidden.

    Example::

        >>> RNNCell(10, 20)(ttorch.randn(3, 10)).shape
        ttorch.Size([3, 20])
    """

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity == "tanh":
            cell = _F.rnn_tanh_cell
        elif self.nonlinearity == "relu":
            cell = _F.rnn_relu_cell
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._single(input, hx, "RNNCell", cell)


class LSTMCell(RNNCellBase):
    r"""One LSTM step (gates i, f, g, o); returns ``(h', c')``.

    Shape: input (N, H_in) or (H_in,); ``hx = (h, c)``, each (N, H) or (H,), zeros if omitted.

    Example::

        >>> h, c = LSTMCell(10, 20)(ttorch.randn(3, 10))
        >>> h.shape, c.shape
        (ttorch.Size([3, 20]), ttorch.Size([3, 20]))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        _check_tensor(input, "LSTMCell")
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for i in range(2):
                if hx[i].dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{i}] to be 1D or 2D, got {hx[i].dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
            hx = (z, z)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        self._check(input, hx[0], "0")
        self._check(input, hx[1], "1")
        h, c = _F.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    r"""One GRU step (gates r, z, n), with PyTorch's ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

    Shape: input (N, H_in) or (H_in,); hidden (N, H) or (H,), zeros if omitted; returns h' like hidden.

    Example::

        >>> GRUCell(10, 20)(ttorch.randn(3, 10)).shape
        ttorch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._single(input, hx, "GRUCell", _F.gru_cell)
