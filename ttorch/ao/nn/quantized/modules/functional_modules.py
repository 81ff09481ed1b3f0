"""``FloatFunctional`` and ``QFunctional``: tensor arithmetic (add, mul, cat...) as modules, so that eager-mode
quantization can observe it and give it output qparams.

``FloatFunctional`` (in a float model) runs the float op and passes the result through its
``activation_post_process`` (an Identity until ``prepare`` puts an observer there); ``convert`` swaps it for a
``QFunctional``, which dequantizes its quantized inputs, runs the op in float32 and quantizes the result with
its ``scale`` and ``zero_point``. ``add`` and ``add_relu`` follow PyTorch's vectorized kernel (dequantize as
``fma(scale, q, -zero_point * scale)``, requantize as ``zero_point + rint(y * (1 / scale))``); PyTorch runs
the last ``numel % 32`` elements through a scalar path whose rare ties can differ by one.
"""
from .....nn.modules.module import Module
from .....nn.modules.flatten import Identity
from ..... import _quantized as Q
from .. import _int8
from .linear import _OutputQParams


class FloatFunctional(Module):
    """State collector for float ops: ``add``, ``add_scalar``, ``mul``, ``mul_scalar``, ``cat``, ``add_relu``,
    ``matmul``; call them instead of ``forward``.

    Example::

        >>> import ttorch
        >>> f = ttorch.ao.nn.quantized.FloatFunctional()
        >>> f.add(ttorch.ones(2), ttorch.ones(2)).tolist()
        [2.0, 2.0]
    """

    def __init__(self):
        super().__init__()
        self.activation_post_process = Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use the underlying "
                           "operation")

    def add(self, x, y):
        import ttorch
        return self.activation_post_process(ttorch.add(x, y))

    def add_scalar(self, x, y):
        import ttorch
        return ttorch.add(x, y)     # (no observer: the scale follows the input's, as PyTorch's)

    def mul(self, x, y):
        import ttorch
        return self.activation_post_process(ttorch.mul(x, y))

    def mul_scalar(self, x, y):
        import ttorch
        return ttorch.mul(x, y)

    def cat(self, x, dim=0):
        import ttorch
        return self.activation_post_process(ttorch.cat(x, dim=dim))

    def add_relu(self, x, y):
        import ttorch
        return self.activation_post_process(ttorch.relu(ttorch.add(x, y)))

    def matmul(self, x, y):
        import ttorch
        return self.activation_post_process(ttorch.matmul(x, y))


class FXFloatFunctional(FloatFunctional):
    """``FloatFunctional`` for FX graph mode (no observer of its own)."""

    def __init__(self):
        Module.__init__(self)

    def add(self, x, y):
        import ttorch
        return ttorch.add(x, y)

    def mul(self, x, y):
        import ttorch
        return ttorch.mul(x, y)

    def cat(self, x, dim=0):
        import ttorch
        return ttorch.cat(x, dim=dim)

    def add_relu(self, x, y):
        import ttorch
        return ttorch.relu(ttorch.add(x, y))

    def matmul(self, x, y):
        import ttorch
        return ttorch.matmul(x, y)


class QFunctional(_OutputQParams, Module):
    """The quantized ``FloatFunctional``: each op's result is quantized with ``scale`` and ``zero_point``."""

    def __init__(self):
        super().__init__()
        self.scale = 1.0
        self.zero_point = 0
        self.activation_post_process = Identity()

    def _get_name(self):
        return "QFunctional"

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the underlying operation")

    def _q(self, y, scale=None, zero_point=None):
        import ttorch
        scale = self.scale if scale is None else scale
        return ttorch.quantize_per_tensor(y, scale, self.zero_point if zero_point is None else zero_point,
                                          Q.quint8)

    def _qv(self, y):
        return _int8.quantize_vec(y, self.scale, self.zero_point)

    def add(self, x, y):
        return self._qv(_int8.dequantize_vec(x) + _int8.dequantize_vec(y))

    def add_scalar(self, x, y):
        # quantized::add_scalar: the input's integers and scale with the zero point moved by the scalar; a
        # zero point pushed out of [0, 255] stays at the end and the scale widens to hold the shifted range
        import numpy as np
        s, zp = float(x._scale), int(x._zp)
        new_zp = zp - int(np.rint(np.float32(y) / np.float32(s)))
        if 0 <= new_zp <= 255:
            return Q.QuantizedTensor._make(x._int.clone(), x.dtype, x._scheme, s, new_zp, None)
        if new_zp < 0:
            return self._q(x.dequantize() + y, ((255 - zp) * s + y) / 255, 0)
        return self._q(x.dequantize() + y, (zp * s - y) / 255, 255)

    def mul(self, x, y):
        return self._q(x.dequantize() * y.dequantize())

    def mul_scalar(self, x, y):
        # quantized::mul_scalar: the same integers with the scale times |y| (a negative y mirrors them)
        s, zp = float(x._scale), int(x._zp)
        if y == 0:
            return Q.QuantizedTensor._make(x._int * 0, x.dtype, x._scheme, 1.0, 0, None)
        if y > 0:
            return Q.QuantizedTensor._make(x._int.clone(), x.dtype, x._scheme, s * y, zp, None)
        return Q.QuantizedTensor._make(255 - x._int, x.dtype, x._scheme, s * -y, 255 - zp, None)

    def cat(self, x, dim=0):
        import ttorch
        return self._q(ttorch.cat([t.dequantize() for t in x], dim=dim))

    def add_relu(self, x, y):
        import ttorch
        return self._qv(ttorch.relu(_int8.dequantize_vec(x) + _int8.dequantize_vec(y)))

    def matmul(self, x, y):
        import ttorch
        return self._q(ttorch.matmul(x.dequantize(), y.dequantize()))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if type(mod) is not FloatFunctional:
            raise AssertionError("QFunctional.from_float expects an instance of FloatFunctional")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new = QFunctional()
        new.scale, new.zero_point = float(scale), int(zero_point)
        return new
