"""Activation modules: thin wrappers over ``nn.functional``, with PyTorch's arguments and reprs."""
from .. import functional as F
from .. import init
from ...ops.creation import empty
from ..parameter import Parameter
from .module import Module

__all__ = ["Threshold", "ReLU", "ReLU6", "LeakyReLU", "RReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Softplus", "Softsign", "Tanh", "Sigmoid", "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid",
           "Softmax", "Softmax2d", "LogSoftmax", "Softmin", "GLU", "Tanhshrink", "Softshrink", "Hardshrink"]


def _inplace_repr(inplace, lead=""):
    return f"{lead}inplace=True" if inplace else ""


class Threshold(Module):
    r"""``y = x if x > threshold else value``.

    Example::

        >>> Threshold(0.1, 20.0)(ttorch.tensor([0.0, 0.5])).tolist()
        [20.0, 0.5]
    """

    __constants__ = ["threshold", "value", "inplace"]

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_repr(self.inplace, ', ')}"


class _Inplace(Module):
    """Activations whose only argument is ``inplace``."""

    __constants__ = ["inplace"]
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class ReLU(_Inplace):
    r"""``max(0, x)``. Example: ``ReLU()(ttorch.tensor([-1.0, 2.0]))`` gives ``[0., 2.]``."""
    _fn = staticmethod(F.relu)


class SELU(_Inplace):
    r"""``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with the self-normalising constants."""
    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    r"""``x * sigmoid(x)``."""
    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    r"""``x * tanh(softplus(x))``."""
    _fn = staticmethod(F.mish)


class Hardsigmoid(_Inplace):
    r"""``relu6(x + 3) / 6``."""
    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self):
        return ""


class Hardswish(_Inplace):
    r"""``x * relu6(x + 3) / 6``."""
    _fn = staticmethod(F.hardswish)

    def extra_repr(self):
        return ""


class Hardtanh(Module):
    r"""Clamp to ``[min_val, max_val]``.

    Example::

        >>> Hardtanh(-2.0, 2.0)(ttorch.tensor([-3.0, 1.0])).tolist()
        [-2.0, 1.0]
    """

    __constants__ = ["min_val", "max_val", "inplace"]

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None or max_value is not None:
            import warnings
            warnings.warn("keyword argument `min_value` and `max_value` is deprecated and will be removed in future "
                          "releases, please use `min_val` and `max_val` instead.", FutureWarning, stacklevel=2)
            min_val = min_val if min_value is None else min_value
            max_val = max_val if max_value is None else max_value
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        assert self.max_val > self.min_val

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_repr(self.inplace, ', ')}"


class ReLU6(Hardtanh):
    r"""``min(max(0, x), 6)``."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input):
        return F.relu6(input, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    r"""``x if x > 0 else negative_slope * x``."""

    __constants__ = ["inplace", "negative_slope"]

    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_repr(self.inplace, ', ')}"


class RReLU(Module):
    r"""Randomized leaky ReLU: ``x if x > 0 else a * x``, ``a ~ U(lower, upper)`` per element in training,
    ``(lower + upper) / 2`` in eval mode.

    Example::
        >>> import ttorch
        >>> ttorch.nn.RReLU(0.1, 0.3).eval()(ttorch.tensor([-1., 2.]))
        tensor([-0.2000,  2.0000])
    """

    __constants__ = ["lower", "upper", "inplace"]

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}{_inplace_repr(self.inplace, ', ')}"


class PReLU(Module):
    r"""``x if x > 0 else a * x`` with a learnable ``a`` (one, or one per channel), initialised to ``init``.

    Example::

        >>> m = PReLU(3)
        >>> m.weight.shape, m(ttorch.randn(2, 3, 4)).shape
        (ttorch.Size([3]), ttorch.Size([2, 3, 4]))
    """

    __constants__ = ["num_parameters"]

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _Alpha(Module):
    __constants__ = ["alpha", "inplace"]
    _fn = None

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return type(self)._fn(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_repr(self.inplace, ', ')}"


class ELU(_Alpha):
    r"""``x if x > 0 else alpha * (exp(x) - 1)``."""
    _fn = staticmethod(F.elu)


class CELU(_Alpha):
    r"""``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    _fn = staticmethod(F.celu)


class GELU(Module):
    r"""``x * Phi(x)``; ``approximate='tanh'`` for the tanh approximation."""

    __constants__ = ["approximate"]

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    r"""``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""

    __constants__ = ["beta", "threshold"]

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class _Plain(Module):
    """Activations without arguments."""
    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class Softsign(_Plain):
    r"""``x / (1 + |x|)``."""
    _fn = staticmethod(F.softsign)


class Tanh(_Plain):
    r"""``tanh(x)``."""
    _fn = staticmethod(F.tanh)


class Sigmoid(_Plain):
    r"""``1 / (1 + exp(-x))``."""
    _fn = staticmethod(F.sigmoid)


class LogSigmoid(_Plain):
    r"""``log(sigmoid(x))``."""
    _fn = staticmethod(F.logsigmoid)


class Tanhshrink(_Plain):
    r"""``x - tanh(x)``."""
    _fn = staticmethod(F.tanhshrink)


class _Shrink(Module):
    __constants__ = ["lambd"]
    _fn = None

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return type(self)._fn(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Softshrink(_Shrink):
    r"""``x -+ lambd`` outside ``[-lambd, lambd]``, else 0."""
    _fn = staticmethod(F.softshrink)


class Hardshrink(_Shrink):
    r"""``x`` outside ``[-lambd, lambd]``, else 0."""
    _fn = staticmethod(F.hardshrink)


class _SoftmaxBase(Module):
    __constants__ = ["dim"]
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    r"""``exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    Example::

        >>> Softmax(dim=1)(ttorch.zeros(2, 4)).tolist()[0]
        [0.25, 0.25, 0.25, 0.25]
    """
    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    r"""``log(softmax(x))`` along ``dim``."""
    _fn = staticmethod(F.log_softmax)


class Softmin(_SoftmaxBase):
    r"""``softmax(-x)`` along ``dim``."""
    _fn = staticmethod(F.softmin)


class Softmax2d(Module):
    r"""Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) inputs."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return F.softmax(input, -3, _stacklevel=5)


class GLU(Module):
    r"""``a * sigmoid(b)`` where ``a, b`` are the halves of ``dim``."""

    __constants__ = ["dim"]

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
